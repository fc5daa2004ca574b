-- dead: one page of dead letters, most recently died first.
-- KEYS[1] dead zset       <prefix>dead        (score = died unix ms)
-- ARGV[1] key prefix
-- ARGV[2] offset
-- ARGV[3] limit (at least 1)
-- Returns one array per job: {id, kind, payload, attempts, last_error or nil, died_at}.
local prefix, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local page = {}
local ids = redis.call('ZREVRANGE', KEYS[1], offset, offset + limit - 1, 'WITHSCORES')
for i = 1, #ids, 2 do
  local id, died_at = ids[i], ids[i + 1]
  local job = redis.call('HMGET', prefix .. 'job:' .. id, 'kind', 'payload', 'attempts', 'last_error')
  if job[1] then
    page[#page + 1] = {id, job[1], job[2], job[3], job[4], died_at}
  end
end
return page
