-- GET one of BENCH_PATHS (set by the harness) at random per request, with the headers given
-- to wrk (-H). Every GET scenario, the ceiling included, goes through this same function so the
-- load generator does the same work per request in each.
request = function()
  return wrk.format("GET", BENCH_PATHS[math.random(#BENCH_PATHS)])
end
