-- enqueue: adds a job unless a job with the same id exists in any state.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled   (score = due unix ms)
-- KEYS[3] kinds set       <prefix>kinds
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] kind
-- ARGV[4] payload (JSON text)
-- ARGV[5] due time, unix ms
-- ARGV[6] now, unix ms
-- Returns 1 when added, 0 when the id is taken.
local prefix, id, kind, payload, run_at, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end

redis.call('HSET', KEYS[1],
  'id', id, 'kind', kind, 'payload', payload, 'attempts', 0,
  'enqueued_at', now, 'run_at', run_at, 'state', 'scheduled')
redis.call('ZADD', KEYS[2], run_at, id)
redis.call('ZADD', prefix .. 'kind:' .. kind .. ':scheduled', run_at, id)
redis.call('SADD', KEYS[3], kind)
return 1
