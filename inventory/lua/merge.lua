-- merge: add claims the system of record knows and this bucket lost (Redis restarted from older
-- data), without touching anything the bucket still knows. Idempotent; run in chunks.
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] hold ms for restored held claims
-- ARGV[3..] six per claim: claim id, member id, qty, request id ('' = none),
--           state char (h held, c committed, r released, e expired, x cancelled),
--           packed payload (key US value ..., '' = none)
-- A restored live claim takes its units from the bucket's stock; units the stock no longer has
-- (someone claimed them since the restart) are added to cap and reported as the deficit, so no
-- claim is dropped and taken = cap - stock still holds. Each restored claim gets an outbox
-- record of type 'restore' (the persist step ignores it: the claim is already in SQL).
-- Returns {added, already known, deficit units, request ids already answered by another claim,
--          members now above the limit (list)}
local US = '\31'
local h = KEYS[1]
local st = redis.call('HMGET', h, 'stock', 'cap', 'taken', 'held', 'members', 'seq', 'n', 'limit')
if not st[1] then
  return {-1}
end
local stock, cap, taken, held = tonumber(st[1]), tonumber(st[2]), tonumber(st[3]), tonumber(st[4])
local members, seq, n, limit = tonumber(st[5]), tonumber(st[6]), tonumber(st[7]), tonumber(st[8])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added, known, deficit, clashes, over = 0, 0, 0, 0, {}
for i = 3, #ARGV, 6 do
  local cid, member, qty, rid, state, payload =
    ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  if redis.call('HEXISTS', h, 'c:' .. cid) == 1 then
    known = known + 1
  else
    added = added + 1
    local until_ms = 0
    if state == 'h' then
      until_ms = now + tonumber(ARGV[2])
      held = held + qty
      redis.call('ZADD', KEYS[2], until_ms, cid)
    end
    local rec = state .. until_ms .. US .. member .. US .. qty .. US .. rid
    if payload ~= '' then
      rec = rec .. US .. payload
    end
    local mkey = 'm:' .. member
    local count = tonumber(redis.call('HGET', h, mkey) or '0')
    if state == 'h' or state == 'c' then
      if count == 0 then
        members = members + 1
      end
      count = count + qty
      taken = taken + qty
      if stock >= qty then
        stock = stock - qty
      else
        deficit = deficit + qty - stock
        cap = cap + qty - stock
        stock = 0
      end
      if count > limit then
        over[#over + 1] = member
      end
      redis.call('HSET', h, mkey, count)
    end
    redis.call('HSET', h, 'c:' .. cid, rec)
    if rid ~= '' then
      local rkey = 'r:' .. member .. US .. rid
      if redis.call('HSETNX', h, rkey, cid .. US .. stock .. US .. count) == 0 then
        clashes = clashes + 1
      end
    end
    local number = tonumber(string.match(cid, '(%d+)$'))
    if number and math.floor(number / n) > seq then
      seq = math.floor(number / n)
    end
    redis.call('XADD', KEYS[3], '*', 'type', 'restore', 'claim_id', cid, 'pool_id', ARGV[1],
               'member_id', member, 'qty', qty, 'request_id', rid, 'ts', now, 'state', state)
  end
end
redis.call('HSET', h, 'stock', stock, 'cap', cap, 'taken', taken, 'held', held,
           'members', members, 'seq', string.format('%.0f', seq))
if n == 1 then
  if stock == 0 then
    redis.call('SET', KEYS[4], 1)
  else
    redis.call('DEL', KEYS[4])
  end
end
return {added, known, deficit, clashes, over}
