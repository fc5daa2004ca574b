-- stats: a consistent snapshot of the figures of every kind.
-- KEYS[1] kinds set       <prefix>kinds
-- KEYS[2] retries hash    <prefix>retries     (kind -> retries scheduled)
-- ARGV[1] key prefix
-- ARGV[2] now, unix ms
-- Returns one array per kind: {kind, ready, scheduled, in_flight, dead,
-- oldest due unix ms or nil, retries}. Expired leases count as ready.
local prefix, now = ARGV[1], ARGV[2]

-- Score of the earliest member if it is due, as the string Redis gave.
local function first_due(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) <= tonumber(now) then
    return first[2]
  end
  return nil
end

local rows = {}
for _, kind in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local base = prefix .. 'kind:' .. kind .. ':'
  local due = redis.call('ZCOUNT', base .. 'scheduled', '-inf', now)
  local later = redis.call('ZCARD', base .. 'scheduled') - due
  local expired = redis.call('ZCOUNT', base .. 'inflight', '-inf', now)
  local leased = redis.call('ZCARD', base .. 'inflight') - expired
  local dead = redis.call('ZCARD', base .. 'dead')
  local oldest = first_due(base .. 'scheduled')
  local oldest_expired = first_due(base .. 'inflight')
  if oldest_expired and (not oldest or tonumber(oldest_expired) < tonumber(oldest)) then
    oldest = oldest_expired
  end
  local retries = tonumber(redis.call('HGET', KEYS[2], kind) or '0')
  rows[#rows + 1] = {kind, due + expired, later, leased, dead, oldest or false, retries}
end
return rows
