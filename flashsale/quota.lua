-- quota: a member's monthly ticket quota and no-show bars, all on the member's slot.
-- KEYS[1] month hash  <ns>:fsq:{m<member>}:<YYYYMM>   KEYS[2] bans hash  <ns>:fsq:{m<member>}:ban
-- Month hash fields: 'all' and 'c:<category>' (tickets counted), 'h:<sale>:<request id>' holds:
--   "<state>|<in flight>|<touched ms>|<category>"  state p (pending) / k (kept) / x (refunded)
-- Bans hash: field '*' or a category -> barred until (ms).
-- ARGV[1] op, ARGV[2] hold field, then per op:
--   take    ARGV[3] category  ARGV[4] monthly limit overall ('' none)  ARGV[5] per category
--           ARGV[6] expire-at of the month hash (epoch s)
--           -> {'taken', all, cat} | {'joined'} | {'held'} | {'banned', scope, until ms}
--              | {'quota', scope, limit, count}
--   finish  (a request that took or joined the hold was refused by the stock)
--           -> {'released'} | {'kept'}   (released when no other request still holds it)
--   settle  ARGV[3] touched ms seen  ARGV[4] 'won' | 'lost'  ARGV[5] grace ms
--           -> {'settled'} | {'skipped'}  (reconciler: only a pending hold untouched for grace)
--   refund  -> {'refunded'} | {'none'}      (a cancelled voucher gives its ticket back)
--   restore ARGV[3] category  ARGV[4] expire-at -> {'restored'} | {'present'}  (from SQL)
local h, bans, op, field = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function parse(v)
  local state, n, touched, cat = string.match(v, '^(%a)|(%d+)|(%d+)|(.*)$')
  return state, tonumber(n), tonumber(touched), cat
end
local function uncount(cat)
  redis.call('HINCRBY', h, 'all', -1)
  redis.call('HINCRBY', h, 'c:' .. cat, -1)
end

local v = redis.call('HGET', h, field)
if op == 'take' then
  local cat = ARGV[3]
  if v then
    local state, n, _, hcat = parse(v)
    if state == 'p' then  -- another request with the same id is in flight: share its hold
      redis.call('HSET', h, field, 'p|' .. (n + 1) .. '|' .. now .. '|' .. hcat)
      return {'joined'}
    end
    return {'held'}  -- a kept (or refunded) claim: its replay costs nothing more
  end
  local b = redis.call('HMGET', bans, '*', cat)
  for i, scope in ipairs({'*', cat}) do
    if b[i] and tonumber(b[i]) > now then
      return {'banned', scope, b[i]}
    end
  end
  local c = redis.call('HMGET', h, 'all', 'c:' .. cat)
  local all, count = tonumber(c[1] or '0'), tonumber(c[2] or '0')
  if ARGV[4] ~= '' and all >= tonumber(ARGV[4]) then
    return {'quota', '*', ARGV[4], all}
  end
  if ARGV[5] ~= '' and count >= tonumber(ARGV[5]) then
    return {'quota', cat, ARGV[5], count}
  end
  redis.call('HINCRBY', h, 'all', 1)
  redis.call('HINCRBY', h, 'c:' .. cat, 1)
  redis.call('HSET', h, field, 'p|1|' .. now .. '|' .. cat)
  redis.call('EXPIREAT', h, ARGV[6])
  return {'taken', all + 1, count + 1}
end
if op == 'restore' then  -- ARGV[3] category, ARGV[4] expire-at: a voucher Redis lost
  if v then
    return {'present'}
  end
  redis.call('HINCRBY', h, 'all', 1)
  redis.call('HINCRBY', h, 'c:' .. ARGV[3], 1)
  redis.call('HSET', h, field, 'k|0|' .. now .. '|' .. ARGV[3])
  redis.call('EXPIREAT', h, ARGV[4])
  return {'restored'}
end
if not v then
  return {'none'}
end
local state, n, touched, cat = parse(v)
if op == 'finish' then
  if state ~= 'p' then
    return {'kept'}
  end
  if n <= 1 then  -- nobody else holds it and this request lost: the ticket was never taken
    uncount(cat)
    redis.call('HDEL', h, field)
    return {'released'}
  end
  redis.call('HSET', h, field, 'p|' .. (n - 1) .. '|' .. now .. '|' .. cat)
  return {'kept'}
end
if op == 'settle' then
  if state ~= 'p' or touched ~= tonumber(ARGV[3]) or now - touched < tonumber(ARGV[5]) then
    return {'skipped'}
  end
  if ARGV[4] == 'won' then
    redis.call('HSET', h, field, 'k|0|' .. now .. '|' .. cat)
  else
    uncount(cat)
    redis.call('HDEL', h, field)
  end
  return {'settled'}
end
if op == 'refund' then
  if state == 'x' then
    return {'none'}
  end
  uncount(cat)
  redis.call('HSET', h, field, 'x|0|' .. now .. '|' .. cat)
  return {'refunded'}
end
return redis.error_reply('unknown op ' .. op)
