-- reserve: the whole decision for one request, in one atomic step on one bucket.
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] member id   ARGV[3] qty   ARGV[4] request id
-- ARGV[5] transfer id to credit first ('' = none)   ARGV[6] transfer amount
-- ARGV[7..] payload as key, value, key, value ...
-- Order: request-id replay (before anything changes), sale window against server time,
-- member limit, stock; then decrement, count the member, record the claim and XADD it.
-- Returns {status, claim_id, remaining, member_count, replayed, packed payload, hold_until ms}
--   status: reserved | sold_out | bucket_empty (n > 1: try another bucket) | limit_reached |
--           not_open | closed | unknown_pool
local h = KEYS[1]
local member, qty, rid = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local rkey = 'r:' .. member .. US .. rid  -- request ids are scoped to their member
if ARGV[5] ~= '' and redis.call('EXISTS', h) == 1
    and redis.call('HSETNX', h, 'x:' .. ARGV[5], ARGV[6]) == 1 then
  redis.call('HINCRBY', h, 'stock', ARGV[6])
  redis.call('HINCRBY', h, 'cap', ARGV[6])
end
local s = redis.call('HMGET', h, 'stock', 'seq', 'limit', 'opens', 'closes', 'closed', 'hold',
                     'taken', 'held', 'members', 'n', 'b', rkey, 'm:' .. member)
if not s[3] then
  return {'unknown_pool'}
end
local stock = tonumber(s[1])
if s[13] then
  local r = split(s[13])
  local rec = redis.call('HGET', h, 'c:' .. r[1])
  local f = split(string.sub(rec, 2))
  return {'reserved', r[1], tonumber(r[2]), tonumber(r[3]), 1,
          table.concat(f, US, 5), tonumber(f[4])}
end
local count = tonumber(s[14] or '0')
if s[6] == '1' then
  return {'closed', false, stock, count}
end
local now = now_ms()
if now < tonumber(s[4]) then
  return {'not_open', false, stock, count}
end
if now >= tonumber(s[5]) then
  return {'closed', false, stock, count}
end
if count + qty > tonumber(s[3]) then
  return {'limit_reached', false, stock, count}
end
local n = tonumber(s[11])
if stock < qty then
  if n == 1 then
    return {'sold_out', false, stock, count}
  end
  return {'bucket_empty', false, stock, count}
end
local seq = tonumber(s[2]) + 1
local cid = ARGV[1] .. '-' .. (seq * n + tonumber(s[12]))
stock = stock - qty
count = count + qty
local hold = tonumber(s[7])
local state, hold_until = 'c', 0
if hold > 0 then
  state, hold_until = 'h', now + hold
end
local rec = state .. member .. US .. qty .. US .. rid .. US .. hold_until
if #ARGV > 6 then
  rec = rec .. US .. table.concat(ARGV, US, 7)
end
local upd = {'stock', stock, 'seq', seq, 'taken', tonumber(s[8]) + qty, 'm:' .. member, count,
             rkey, cid .. US .. stock .. US .. count, 'c:' .. cid, rec}
if count == qty then
  upd[#upd + 1] = 'members'
  upd[#upd + 1] = tonumber(s[10]) + 1
end
if hold > 0 then
  upd[#upd + 1] = 'held'
  upd[#upd + 1] = tonumber(s[9]) + qty
  redis.call('ZADD', KEYS[2], hold_until, cid)
end
redis.call('HSET', h, unpack(upd))
if stock == 0 and n == 1 then
  redis.call('SET', KEYS[4], 1)
end
local entry = {'type', 'claim', 'claim_id', cid, 'pool_id', ARGV[1], 'member_id', member,
               'qty', qty, 'request_id', rid, 'ts', now, 'hold_until', hold_until}
for i = 7, #ARGV do
  entry[#entry + 1] = ARGV[i]
end
redis.call('XADD', KEYS[3], '*', unpack(entry))
return {'reserved', cid, stock, count, 0, false, hold_until}
