-- Raise a token version, never lower it: concurrent bumps and SQL fallbacks may arrive out of
-- order, and a lower value would bring revoked tokens back to life.
-- KEYS[1]  token-version key of one account
-- ARGV[1]  version (integer)
-- Returns the version stored after the call.
local current = tonumber(redis.call('GET', KEYS[1]))
local wanted = tonumber(ARGV[1])
if current == nil or wanted > current then
  redis.call('SET', KEYS[1], wanted)
  return wanted
end
return current
