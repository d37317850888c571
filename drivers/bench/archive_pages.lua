-- GET /feed/archive/{n} with n drawn uniformly from BENCH_FIRST..BENCH_LAST, so almost every
-- request misses the service's small cache of rendered pages and reads the database.
request = function()
  return wrk.format("GET", "/feed/archive/" .. math.random(BENCH_FIRST, BENCH_LAST))
end
