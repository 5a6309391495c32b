"""The warehouse contract (``docs/warehouse.md``) as the tests read it: every ``public`` table's
columns with their types, in one place. A new column of a stream is a line here (and its
migration and spec), and every test that compares tables picks it up."""

from __future__ import annotations

# (data_type, numeric_precision, numeric_scale) of information_schema.columns
BIGINT, TEXT, BOOL, INT = ("bigint", 64, 0), ("text", None, None), ("boolean", None, None), ("integer", 32, 0)
TSTZ, MONEY = ("timestamp with time zone", None, None), ("numeric", 15, 2)
JSONB = ("jsonb", None, None)
QUANTITY, PERCENT = ("numeric", 15, 4), ("numeric", 9, 4)
_LINE = {"product_id": BIGINT, "product_name": TEXT, "quantity": QUANTITY, "unit_price": MONEY,
         "discount_percent": PERCENT, "line_total": MONEY, "currency_id": BIGINT, "synced_at": TSTZ}

PUBLIC = {
    "sales": {"id": BIGINT, "customer_id": BIGINT, "title": TEXT, "deal_value": MONEY, "status": TEXT,
              "won": BOOL, "pipeline_id": BIGINT, "stage_id": BIGINT, "owner_id": BIGINT, "created_at": TSTZ,
              "updated_at": TSTZ, "closed_at": TSTZ, "synced_at": TSTZ, "last_quote_id": BIGINT,
              "won_quote_id": BIGINT, "loss_reason_id": BIGINT, "custom_fields": JSONB},
    "customers": {"id": BIGINT, "name": TEXT, "legal_name": TEXT, "cnpj": TEXT, "zip_code": TEXT,
                  "is_client": BOOL, "created_at": TSTZ, "updated_at": TSTZ, "synced_at": TSTZ,
                  "custom_fields": JSONB},
    "customer_sales": {"customer_id": BIGINT, "customer_name": TEXT, "customer_cnpj": TEXT,
                       "total_deals": INT, "won_deals": INT, "total_sales": INT, "total_revenue": MONEY,
                       "average_deal_value": MONEY, "first_purchase_date": TSTZ, "last_purchase_date": TSTZ,
                       "last_sync_at": TSTZ},
    "products": {"id": BIGINT, "code": TEXT, "name": TEXT, "group_id": BIGINT, "family_id": BIGINT,
                 "measurement_unit": TEXT, "unit_price": MONEY, "currency_id": BIGINT, "suspended": BOOL,
                 "created_at": TSTZ, "updated_at": TSTZ, "synced_at": TSTZ, "custom_fields": JSONB},
    "product_prices": {"product_id": BIGINT, "unit_price": MONEY, "currency_id": BIGINT, "valid_from": TSTZ,
                       "valid_to": TSTZ},
    "orders": {"id": BIGINT, "order_number": BIGINT, "deal_id": BIGINT, "customer_id": BIGINT, "ordered_at": TSTZ,
               "amount": MONEY, "discount_percent": PERCENT, "stage_id": BIGINT, "owner_id": BIGINT,
               "origin_quote_id": BIGINT, "created_at": TSTZ, "updated_at": TSTZ, "synced_at": TSTZ,
               "custom_fields": JSONB},
    "order_items": {"id": BIGINT, "order_id": BIGINT, "deal_id": BIGINT, "customer_id": BIGINT, "ordered_at": TSTZ,
                    **_LINE},
    "quotes": {"id": BIGINT, "quote_number": BIGINT, "review_number": BIGINT, "deal_id": BIGINT,
               "customer_id": BIGINT, "quoted_at": TSTZ, "amount": MONEY, "discount_percent": PERCENT,
               "approval_status_id": BIGINT, "expires_at": TSTZ, "updated_at": TSTZ, "synced_at": TSTZ,
               "custom_fields": JSONB},
    "quote_items": {"id": BIGINT, "quote_id": BIGINT, "deal_id": BIGINT, "customer_id": BIGINT, "quoted_at": TSTZ,
                    **_LINE},
    # the account's vocabulary (updated_at: LastUpdateDate where Ploomes gives one, else null)
    "custom_fields": {"key": TEXT, "id": BIGINT, "entity": TEXT, "name": TEXT, "type_id": INT, "native_type": TEXT,
                      "options_table_id": BIGINT, "multiple": BOOL, "updated_at": TSTZ, "synced_at": TSTZ},
    "custom_field_option_tables": {"id": BIGINT, "name": TEXT, "updated_at": TSTZ, "synced_at": TSTZ},
    "custom_field_options": {"id": BIGINT, "table_id": BIGINT, "name": TEXT, "synced_at": TSTZ},
    "crm_users": {"id": BIGINT, "name": TEXT, "email": TEXT, "suspended": BOOL, "integration": BOOL,
                  "updated_at": TSTZ, "synced_at": TSTZ},
    "deal_pipelines": {"id": BIGINT, "name": TEXT, "archived": BOOL, "ordination": INT, "updated_at": TSTZ,
                       "synced_at": TSTZ},
    "deal_stages": {"id": BIGINT, "pipeline_id": BIGINT, "name": TEXT, "ordination": INT, "updated_at": TSTZ,
                    "synced_at": TSTZ},
    "loss_reasons": {"id": BIGINT, "name": TEXT, "pipeline_id": BIGINT, "updated_at": TSTZ, "synced_at": TSTZ},
}
KEYS = {"sales": "id", "customers": "id", "customer_sales": "customer_id", "products": "id", "orders": "id",
        "order_items": "id", "quotes": "id", "quote_items": "id", "custom_fields": "key",
        "custom_field_option_tables": "id", "custom_field_options": "id", "crm_users": "id", "deal_pipelines": "id",
        "deal_stages": "id", "loss_reasons": "id"}
WRITTEN_AT = ("synced_at", "last_sync_at")  # when the sync wrote a row: not a value from Ploomes


def compared(table: str) -> tuple[str, ...]:
    """The columns of ``table`` whose values come from Ploomes (what a test compares with the truth)."""
    return tuple(column for column in PUBLIC[table] if column not in WRITTEN_AT)
