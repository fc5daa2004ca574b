-- extend: pushes a lease's expiry further out.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled
-- KEYS[3] inflight zset   <prefix>inflight
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] lease token
-- ARGV[4] new lease expiry, unix ms
-- Returns 1 when extended, 0 when the lease is lost.
local prefix, id, token, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local job = redis.call('HMGET', KEYS[1], 'lease_token', 'kind')
if job[1] ~= token then
  return 0
end
local kind = job[2]

-- An expired lease may have been moved back to scheduled by a claim that did
-- not take it; it is still ours, so move it back.
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':scheduled', id)
redis.call('ZADD', KEYS[3], expiry, id)
redis.call('ZADD', prefix .. 'kind:' .. kind .. ':inflight', expiry, id)
redis.call('HSET', KEYS[1], 'state', 'inflight')
return 1
