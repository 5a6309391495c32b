-- The oldest pending events (at most %(limit)s), in the order received; a deletion is a delivery
-- whose Action says Delete, or whose New is null (Ploomes names the deleted record in Old).
SELECT id, stream, record_id, action, received_at,
       lower(coalesce(action, '')) IN ('delete', 'deleted', 'exclusao', 'exclusão', 'excluir')
           OR (payload ? 'Old' AND jsonb_typeof(payload -> 'Old') = 'object'
               AND coalesce(jsonb_typeof(payload -> 'New'), 'null') = 'null') AS deletion
FROM ploomes_sync.webhook_inbox
WHERE applied_at IS NULL
ORDER BY id
LIMIT %(limit)s;
