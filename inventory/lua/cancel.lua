-- cancel: a member gives a committed claim back; its stock returns exactly once.
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] claim id
-- Returns {state, changed}: cancelled,1 | <current state>,0 (held claims are released instead)
-- | {'unknown_claim'}
local rec = redis.call('HGET', KEYS[1], 'c:' .. ARGV[2])
if not rec then
  return {'unknown_claim'}
end
local state = string.sub(rec, 1, 1)
if state ~= 'c' then
  return {STATES[state], 0}
end
give_back(KEYS, ARGV[1], ARGV[2], rec, 'x', 'cancel', now_ms())
return {'cancelled', 1}
