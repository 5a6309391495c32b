-- How each custom field the last read of /Fields found is read: its key, native type, whether it
-- is an option list, and whether it takes several options.
SELECT key, native_type, options_table_id IS NOT NULL, coalesce(multiple, false)
FROM public.custom_fields;
