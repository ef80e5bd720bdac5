-- lend: move up to ARGV[2] units of free stock out of this bucket towards bucket ARGV[3].
-- KEYS[1] pool hash   KEYS[2] transit hash
-- ARGV[1] transfer id (unique)   ARGV[2] units wanted   ARGV[3] receiving bucket
-- The units sit in KEYS[2] until the receiver credits them (reserve ARGV[5..6] or credit.lua);
-- the engine's reconcile() completes transfers a crashed client left half-way.
-- Returns the units lent (0 when this bucket has none free).
local st = redis.call('HMGET', KEYS[1], 'stock', 'cap')
if not st[1] then
  return 0
end
local amount = math.min(tonumber(st[1]), tonumber(ARGV[2]))
if amount <= 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'stock', tonumber(st[1]) - amount, 'cap', tonumber(st[2]) - amount)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. ':' .. amount)
return amount
