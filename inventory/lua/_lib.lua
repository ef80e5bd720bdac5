-- Shared helpers, prepended by inventory/scripts.py to the scripts that settle claims
-- (commit, release, cancel, expire). Not an operation itself. Claim records are packed strings (no cjson):
--   c:<claim_id>   = <state char> hold_until_ms US member US qty US request_id [US key US value]...
--   r:<member_id> US <request_id> = claim_id US remaining US member_count   (first result)
--   m:<member_id>  = units the member holds in this bucket
--   state chars: h held, c committed, r released, e expired, x cancelled.
local US = '\31'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(s)
  local out, i = {}, 1
  while true do
    local j = string.find(s, US, i, true)
    if not j then
      out[#out + 1] = string.sub(s, i)
      return out
    end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

-- Return a live claim's units to the bucket exactly once: flip its state, restore stock, lower
-- the member's count, drop its hold and append an outbox record. Returns the stock afterwards.
local function give_back(k, pool_id, cid, rec, newstate, kind, now)
  local f = split(string.sub(rec, 2))
  local member, qty, rid = f[2], tonumber(f[3]), f[4]
  local mkey = 'm:' .. member
  local st = redis.call('HMGET', k[1], 'stock', 'taken', 'held', 'members', 'n', mkey)
  local stock = tonumber(st[1]) + qty
  local count = tonumber(st[6] or '0') - qty
  local upd = {'stock', stock, 'taken', tonumber(st[2]) - qty, 'c:' .. cid,
               newstate .. string.sub(rec, 2)}
  if string.sub(rec, 1, 1) == 'h' then
    upd[#upd + 1] = 'held'
    upd[#upd + 1] = tonumber(st[3]) - qty
    redis.call('ZREM', k[2], cid)
  end
  if count > 0 then
    upd[#upd + 1] = mkey
    upd[#upd + 1] = count
  else
    redis.call('HDEL', k[1], mkey)
    upd[#upd + 1] = 'members'
    upd[#upd + 1] = tonumber(st[4]) - 1
  end
  redis.call('HSET', k[1], unpack(upd))
  if st[5] == '1' then
    redis.call('DEL', k[4])
  end
  redis.call('XADD', k[3], '*', 'type', kind, 'claim_id', cid, 'pool_id', pool_id,
             'member_id', member, 'qty', qty, 'request_id', rid, 'ts', now)
  return stock
end

local STATES = {h = 'held', c = 'committed', r = 'released', e = 'expired', x = 'cancelled'}

-- The common start of commit and release: find a claim that is still held. Returns
-- ``reply`` (to return as is: unknown claim, a claim no longer held, or a hold that had run out,
-- which this call expires exactly once) or ``nil, rec, fields, now`` for a live hold.
local function live_hold(k, pool_id, cid)
  local rec = redis.call('HGET', k[1], 'c:' .. cid)
  if not rec then
    return {'unknown_claim'}
  end
  local state = string.sub(rec, 1, 1)
  if state ~= 'h' then
    return {STATES[state], 0}
  end
  local f = split(string.sub(rec, 2))
  local now = now_ms()
  if tonumber(f[1]) <= now then
    give_back(k, pool_id, cid, rec, 'e', 'expire', now)
    return {'expired', 1}
  end
  return nil, rec, f, now
end
