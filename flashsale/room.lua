-- The waiting room of one queue-mode sale: join, status, rate change and "pass used", each one
-- atomic step on the slot of the sale's stock pool (bucket 0), so it reads the unclaimed stock
-- the claims leave behind in the same step (docs/flashsale.md "Waiting room").
-- KEYS[1] room hash: opens, starts, ends (ms), rate (admissions/s), factor, ttl (pass ms);
--         state: F (places 1..F admitted), E (places 1..E: admission lapsed), credit, last, post
-- KEYS[2] pre zset: member -> random score drawn once on join (before the start)
-- KEYS[3] late hash: member -> place (joined after the start, arrival order)
-- KEYS[4] batches zset: score F after an admission step, member "<F>:<deadline ms>"
-- KEYS[5] used zset: member -> place, for passes that won a claim
-- KEYS[6] the stock engine's pool hash (fields stock, closed)
-- ARGV[1] op: join | status | rate | used | peek   ARGV[2] member ('' for rate and peek)
-- ARGV[3] join: score (integer < 2^53) | rate: admissions per second | used: place
-- Returns {state, place, F, total, stock, deadline ms, now ms, rate, starts ms}; state:
--   no_room | not_open | not_joined | waiting | admitted | claimed | expired | sold_out | closed
-- Admission rule, applied lazily at each call: credit grows by rate per second since the last
-- call (at most one second's worth is kept), and F grows by
--   min(floor(credit), floor(stock * factor) - live, queued - F)
-- where live = members admitted whose pass has not lapsed and has not won a claim.
local R, PRE, LATE, B, USED, POOL = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local op, member = ARGV[1], ARGV[2]
local c = redis.call('HMGET', R, 'opens', 'starts', 'ends', 'rate', 'factor', 'ttl', 'F', 'E',
                     'credit', 'last', 'post')
if not c[2] then
  return {'no_room'}
end
local opens, starts, ends = tonumber(c[1]), tonumber(c[2]), tonumber(c[3])
local rate, factor, ttl = tonumber(c[4]), tonumber(c[5]), tonumber(c[6])
local F, E = tonumber(c[7] or '0'), tonumber(c[8] or '0')
local credit, last, post = tonumber(c[9] or '0'), tonumber(c[10] or '0'), tonumber(c[11] or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local p = redis.call('HMGET', POOL, 'stock', 'closed')
local stock = tonumber(p[1] or '0')
local closed = p[2] == '1' or now >= ends or not p[1]

-- Lapse the admissions whose deadline passed (batches are in F order, which is deadline order).
-- Writes only when something changed: credit is a pure function of (credit, last, now) until
-- admissions consume it, so an idle poll leaves the hash alone.
local dirty = false
local first = redis.call('ZRANGE', B, 0, 0)[1]
if first and tonumber(string.match(first, ':(%d+)$')) <= now then
  for _, m in ipairs(redis.call('ZRANGE', B, 0, 99)) do
    local f, d = string.match(m, '^(%d+):(%d+)$')
    if tonumber(d) > now then
      break
    end
    E = tonumber(f)
    redis.call('ZREM', B, m)
  end
  dirty = true
end
local pre_n  -- ZCARD of the early joiners, read once when needed
if now >= starts and not closed then
  if last < starts then
    last = starts
  end
  credit = math.min(credit + (now - last) * rate / 1000, math.max(1, rate))
  last = now
  if credit >= 1 then
    local live = F - E - redis.call('ZCOUNT', USED, E + 1, '+inf')
    pre_n = redis.call('ZCARD', PRE)
    local k = math.min(math.floor(credit), math.floor(stock * factor + 1e-9) - live,
                       pre_n + post - F)
    if k > 0 then
      F = F + k
      credit = credit - k
      redis.call('ZADD', B, F, F .. ':' .. (now + ttl))
      dirty = true
    end
  end
end
if op == 'rate' then  -- what accrued so far was at the old rate; from now on the new one
  rate = tonumber(ARGV[3])
  redis.call('HSET', R, 'rate', ARGV[3])
end
if dirty or op == 'rate' then
  redis.call('HSET', R, 'F', F, 'E', E, 'credit', string.format('%.6f', credit), 'last', last)
end
local function reply(state, place, deadline)
  pre_n = pre_n or redis.call('ZCARD', PRE)
  return {state, place, F, pre_n + post, stock, deadline, now, tostring(rate), starts}
end
if op == 'rate' then
  return reply('rate', 0, 0)
end
if op == 'peek' then  -- the room as a whole (a process's snapshot): state 'open' or 'closed'
  return reply(closed and 'closed' or 'open', 0, 0)
end
if op == 'used' then
  redis.call('ZADD', USED, 'NX', tonumber(ARGV[3]), member)
  return reply('claimed', tonumber(ARGV[3]), 0)
end

local place = 0
local rank = redis.call('ZRANK', PRE, member)
if rank then
  place = rank + 1
else
  place = tonumber(redis.call('HGET', LATE, member) or '0')
end
if place == 0 and op == 'join' then
  if now < opens then
    return reply('not_open', 0, 0)
  end
  if closed then
    return reply('closed', 0, 0)
  end
  if now < starts then
    redis.call('ZADD', PRE, 'NX', ARGV[3], member)
    place = redis.call('ZRANK', PRE, member) + 1
    pre_n = nil
  else
    post = redis.call('HINCRBY', R, 'post', 1)
    pre_n = redis.call('ZCARD', PRE)
    place = pre_n + post
    redis.call('HSET', LATE, member, place)
  end
end
if place == 0 then
  return reply('not_joined', 0, 0)
end
if now < starts then  -- places are drawn at the start: nobody has one yet
  return reply('waiting', 0, 0)
end
if redis.call('ZSCORE', USED, member) then
  return reply('claimed', place, 0)
end
if closed then
  return reply('closed', place, 0)
end
if stock <= 0 then
  return reply('sold_out', place, 0)
end
if place <= E then
  return reply('expired', place, 0)
end
if place <= F then
  local batch = redis.call('ZRANGEBYSCORE', B, place, '+inf', 'LIMIT', 0, 1)[1]
  return reply('admitted', place, tonumber(string.match(batch, ':(%d+)$')))
end
return reply('waiting', place, 0)
