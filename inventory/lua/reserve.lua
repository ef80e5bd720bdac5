-- reserve: the whole decision for one request, in one atomic step on one bucket.
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] member id   ARGV[3] qty   ARGV[4] request id
-- ARGV[5] transfer to credit first, "<id>:<units>" ('' = none; see lend.lua)
-- ARGV[6] member budget "<interval ms>:<tolerance ms>" ('' = none): a GCRA per member, its
--         theoretical arrival time (ms) kept in field q:<member> of this hash
-- ARGV[7..] payload as key, value, key, value ...
-- Order: request-id replay (before anything changes, so a retry is never refused), member
-- budget, sale window against server time, member limit, stock; then decrement, count the
-- member, record the claim and XADD it. Every decision after the budget spends one unit of it.
-- Returns {status, claim_id, remaining, member_count, replayed, packed payload, hold_until ms}
--   status: reserved | sold_out | bucket_empty (n > 1: try another bucket) | limit_reached |
--           not_open | closed | unknown_pool;  {'rate_limited', wait ms, remaining, count}
-- Hot path: four redis.call (HMGET, TIME, HSET, XADD) and no helper prelude, to stay lean;
-- a refusal with a budget adds one HSET.
local US = '\31'
local h = KEYS[1]
local member, qty, rid = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local rkey, mkey = 'r:' .. member .. US .. rid, 'm:' .. member  -- request ids are per member
local qkey = 'q:' .. member
if ARGV[5] ~= '' and redis.call('EXISTS', h) == 1 then
  local xfer, units = string.match(ARGV[5], '^(.+):(%d+)$')
  if redis.call('HSETNX', h, 'x:' .. xfer, units) == 1 then
    redis.call('HINCRBY', h, 'stock', units)
    redis.call('HINCRBY', h, 'cap', units)
  end
end
local s = redis.call('HMGET', h, 'stock', 'seq', 'limit', 'opens', 'closes', 'closed', 'hold',
                     'taken', 'members', 'n', 'b', rkey, mkey, qkey)
if not s[3] then
  return {'unknown_pool'}
end
local stock = tonumber(s[1])
if s[12] then
  local cid, remaining, count = string.match(s[12], '^([^\31]*)\31([^\31]*)\31(.*)$')
  local rec = redis.call('HGET', h, 'c:' .. cid)
  local hold_until, rest = string.match(rec, '^.(%d+)\31[^\31]*\31[^\31]*\31[^\31]*(.*)$')
  return {'reserved', cid, tonumber(remaining), tonumber(count), 1, string.sub(rest, 2),
          tonumber(hold_until)}
end
local count = tonumber(s[13] or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat  -- the member's next theoretical arrival time, when a budget applies
if ARGV[6] ~= '' then
  local interval, tolerance = string.match(ARGV[6], '^([^:]+):(.+)$')
  tat = math.max(tonumber(s[14] or '0'), now)
  if tat - now > tonumber(tolerance) then
    return {'rate_limited', math.ceil(tat - now - tonumber(tolerance)), stock, count}
  end
  tat = string.format('%.1f', tat + tonumber(interval))
end
local function refuse(status)
  if tat then
    redis.call('HSET', h, qkey, tat)
  end
  return {status, false, stock, count}
end
if s[6] == '1' then
  return refuse('closed')
end
if now < tonumber(s[4]) then
  return refuse('not_open')
end
if now >= tonumber(s[5]) then
  return refuse('closed')
end
if count + qty > tonumber(s[3]) then
  return refuse('limit_reached')
end
local n = tonumber(s[10])
if stock < qty then
  if n == 1 then
    return refuse('sold_out')
  end
  return refuse('bucket_empty')
end
-- Claim numbers never repeat, even after Redis restarts from older data: the sequence never
-- falls behind the server clock, counted in 10 us ticks since 2026-01-01 (a bucket cannot take
-- 100,000 claims a second, so it never runs ahead of the clock for long). Kept below 2^53 (exact
-- in a Lua double) for decades at up to 256 buckets; '%.0f' avoids tostring's exponent form.
local tick = (tonumber(t[1]) - 1767225600) * 100000 + math.floor(tonumber(t[2]) / 10)
local seq = math.max(tonumber(s[2]) + 1, tick)
local cid = ARGV[1] .. '-' .. string.format('%.0f', seq * n + tonumber(s[11]))
stock = stock - qty
count = count + qty
local members = tonumber(s[9])
if count == qty then
  members = members + 1
end
local hold = tonumber(s[7])
local state, hold_until = 'c', 0
if hold > 0 then
  state, hold_until = 'h', now + hold
  redis.call('HINCRBY', h, 'held', qty)
  redis.call('ZADD', KEYS[2], hold_until, cid)
end
local rec = state .. hold_until .. US .. member .. US .. qty .. US .. rid
if #ARGV > 6 then
  rec = rec .. US .. table.concat(ARGV, US, 7)
end
redis.call('HSET', h, 'stock', stock, 'seq', string.format('%.0f', seq), 'taken', tonumber(s[8]) + qty,
           'members', members, mkey, count, rkey, cid .. US .. stock .. US .. count,
           'c:' .. cid, rec, tat and qkey or mkey, tat or count)  -- no budget: mkey again
if stock == 0 and n == 1 then
  redis.call('SET', KEYS[4], 1)
end
redis.call('XADD', KEYS[3], '*', 'type', 'claim', 'claim_id', cid, 'pool_id', ARGV[1],
           'member_id', member, 'qty', qty, 'request_id', rid, 'ts', now,
           'hold_until', hold_until, unpack(ARGV, 7))
return {'reserved', cid, stock, count, 0, false, hold_until}
