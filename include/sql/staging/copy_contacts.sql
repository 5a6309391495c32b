COPY ploomes_sync.stage_contacts (run_key, id, name, legal_name, cnpj, zip_code, is_client, created_at,
                                  updated_at) FROM STDIN
