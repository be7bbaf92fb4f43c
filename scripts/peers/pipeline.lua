-- wrk -s pipeline.lua URL: every write carries PIPE requests (16 unless the environment says
-- otherwise) for the URL's path, so the server finds many requests in one read. wrk counts every
-- answer in Requests/sec but times only whole batches: its latency figures are per batch.
init = function(args)
  local depth = tonumber(os.getenv("PIPE") or "") or 16
  local batch = {}
  for i = 1, depth do
    batch[i] = wrk.format()  -- wrk's method, headers and the URL's path
  end
  pipelined = table.concat(batch)
end

request = function()
  return pipelined
end
