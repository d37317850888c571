-- POST /contacts with a new e-mail address on every request (BENCH_RUN keeps repetitions
-- apart, the thread number keeps wrk's threads apart), so every request is a durable write
-- and none is refused as a duplicate.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local n = 0
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
request = function()
  n = n + 1
  local body = string.format(
    '{"firstname":"Bench","lastname":"Writer %d","email":"w-%s-%d-%d@example.org"}',
    n, BENCH_RUN, thread_no, n)
  return wrk.format("POST", "/contacts", headers, body)
end
