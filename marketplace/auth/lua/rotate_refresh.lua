-- Rotate one refresh-token family: the presented generation must be the family's current one.
-- KEYS[1]  family key <ns>:auth:rf:<family>
-- ARGV[1]  presented generation
-- ARGV[2]  account id (recorded when the family is (re)created)
-- ARGV[3]  lifetime of the new refresh token, seconds (the family's expiry slides with it)
-- Returns the new generation, or:
--   -1  the family was revoked (a reused token revoked it earlier)
--   -2  reuse: an older generation came back, so the family is revoked now
-- A missing family (Redis lost it, or it expired with its last token) is recreated at the
-- presented generation: the caller has checked signature, expiry and the account's version.
local fam = redis.call('HMGET', KEYS[1], 'gen', 'revoked')
if fam[2] then
  return -1
end
local presented = tonumber(ARGV[1])
if fam[1] and tonumber(fam[1]) ~= presented then
  redis.call('HSET', KEYS[1], 'revoked', 1)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return -2
end
local gen = presented + 1
redis.call('HSET', KEYS[1], 'gen', gen, 'account', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return gen
