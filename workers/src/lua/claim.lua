-- claim: leases up to N due jobs, oldest due first.
-- KEYS[1] scheduled zset  <prefix>scheduled   (score = due unix ms)
-- KEYS[2] inflight zset   <prefix>inflight    (score = lease expiry unix ms)
-- ARGV[1] key prefix
-- ARGV[2] now, unix ms
-- ARGV[3] N, the most jobs to take
-- ARGV[4] lease expiry, unix ms
-- ARGV[5] lease token for this claim
-- Returns one array per job: {id, kind, payload, attempts, enqueued_at,
-- run_at (when it became due), last_error or nil}.
local prefix, now, max, expiry, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local function kind_key(kind, set)
  return prefix .. 'kind:' .. kind .. ':' .. set
end

-- 1. Expired leases become claimable again, due since their expiry. Their
-- lease token stays, so a slow worker can still settle the job until another
-- claim takes it.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 1, #expired, 2 do
  local id, score = expired[i], expired[i + 1]
  local key = prefix .. 'job:' .. id
  redis.call('ZREM', KEYS[2], id)
  local kind = redis.call('HGET', key, 'kind')
  if kind then
    redis.call('ZREM', kind_key(kind, 'inflight'), id)
    redis.call('ZADD', KEYS[1], score, id)
    redis.call('ZADD', kind_key(kind, 'scheduled'), score, id)
    redis.call('HSET', key, 'state', 'scheduled', 'run_at', score)
  end
end

-- 2. Take the due jobs and lease them.
local claimed = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, max)
for i = 1, #due, 2 do
  local id, score = due[i], due[i + 1]
  local key = prefix .. 'job:' .. id
  redis.call('ZREM', KEYS[1], id)
  local job = redis.call('HMGET', key, 'kind', 'payload', 'enqueued_at', 'last_error')
  local kind = job[1]
  -- A member without its hash cannot be run; dropping it keeps claim moving.
  if kind then
    redis.call('ZREM', kind_key(kind, 'scheduled'), id)
    redis.call('ZADD', KEYS[2], expiry, id)
    redis.call('ZADD', kind_key(kind, 'inflight'), expiry, id)
    local attempts = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'state', 'inflight', 'lease_token', token, 'run_at', score)
    claimed[#claimed + 1] = {id, kind, job[2], attempts, job[3], score, job[4]}
  end
end
return claimed
