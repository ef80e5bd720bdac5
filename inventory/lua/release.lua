-- release: give a held claim's stock back (the member abandoned checkout).
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] claim id
-- Returns {state, changed}: released,1 | expired,1 (hold already ran out; expired by this call)
-- | <current state>,0 | {'unknown_claim'}
local reply, rec, f, now = live_hold(KEYS, ARGV[1], ARGV[2])
if reply then
  return reply
end
give_back(KEYS, ARGV[1], ARGV[2], rec, 'r', 'release', now)
return {'released', 1}
