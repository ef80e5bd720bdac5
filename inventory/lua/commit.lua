-- commit: turn a held claim into a committed one, unless its hold has run out.
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] claim id
-- Returns {state, changed}: committed,1 | expired,1 (the hold had run out: this call expired it
-- and returned the stock) | <current state>,0 | {'unknown_claim'}
local reply, rec, f, now = live_hold(KEYS, ARGV[1], ARGV[2])
if reply then
  return reply
end
redis.call('HSET', KEYS[1], 'c:' .. ARGV[2], 'c' .. string.sub(rec, 2))
redis.call('HINCRBY', KEYS[1], 'held', -tonumber(f[3]))
redis.call('ZREM', KEYS[2], ARGV[2])
return {'committed', 1}
