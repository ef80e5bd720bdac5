-- close: stop a bucket's sale now (reserve answers 'closed'; holds can still be settled).
-- KEYS[1] pool hash
-- Returns 1 when the bucket exists, 0 otherwise.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'closed', 1)
return 1
