using System.CommandLine;
using System.Diagnostics;
using SharpGpt.Cli.Bench;
using SharpGpt.Model;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt loadtest`: throughput and time to first token at several concurrency levels, and a soak test.</summary>
internal static class LoadTestCommand
{
    public static Command Create(TextWriter output)
    {
        var url = new Option<string>("--url") { Description = "Server base URL", DefaultValueFactory = _ => "http://127.0.0.1:8080/" };
        var levels = new Option<string>("--concurrency", "-c") { Description = "Comma-separated concurrency levels", DefaultValueFactory = _ => "1,4,16,64" };
        var requests = new Option<int>("--requests", "-r") { Description = "Requests per level (at least the concurrency)", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated per request", DefaultValueFactory = _ => 64 };
        var prompt = new Option<string>("--prompt") { Description = "Prompt of every request", DefaultValueFactory = _ => "Once upon a time, in a small village by the sea," };
        var soak = new Option<int>("--soak") { Description = "Instead: send this many mixed requests (some cancelled, some malformed) and check the server is clean after" };
        var key = new Option<string?>("--api-key") { Description = "Bearer key" };
        var command = new Command("loadtest", "Measure aggregate tokens/s and p50/p99 time to first token against a running server.")
        {
            url, levels, requests, maxTokens, prompt, soak, key,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var generator = new LoadGenerator(new Uri(parse.GetValue(url)!), parse.GetValue(key));
            if (parse.GetValue(soak) is int soakRequests and > 0)
            {
                var clock = Stopwatch.StartNew();
                var (ok, clientErrors, serverErrors, cancelled) = await generator.Soak(soakRequests, 16, cancellation);
                await Task.Delay(500, cancellation);
                var ready = await generator.Ready();
                output.WriteLine($"soak: {soakRequests} requests in {clock.Elapsed.TotalSeconds:F1} s: {ok} ok, {clientErrors} rejected (4xx), {cancelled} cancelled, {serverErrors} server errors");
                output.WriteLine($"after: {ready}");
                return serverErrors == 0 ? 0 : 1;
            }
            try
            {
                await generator.Ready();
            }
            catch (HttpRequestException e)
            {
                throw new SharpGptException($"the server at {parse.GetValue(url)} is not ready ({e.Message}); start it with 'sharpgpt serve' and wait for /ready.");
            }
            int[] concurrency = parse.GetValue(levels)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            output.WriteLine($"{"streams",8} {"requests",9} {"tokens/s",10} {"vs 1",6} {"p50 TTFT",10} {"p99 TTFT",10} {"mean latency",13} {"errors",7}");
            double? single = null;
            long failed = 0;
            foreach (int c in concurrency)
            {
                LoadResult r = await generator.RunLevel(c, Math.Max(c, parse.GetValue(requests)), parse.GetValue(prompt)!, parse.GetValue(maxTokens), cancellation);
                single ??= r.TokensPerSecond;
                failed += r.Errors;
                output.WriteLine($"{c,8} {r.Requests,9} {r.TokensPerSecond,10:F1} {r.TokensPerSecond / single.Value,5:F1}x {r.P50Ttft * 1000,8:F0}ms {r.P99Ttft * 1000,8:F0}ms {r.MeanLatency,11:F2} s {r.Errors,7}");
            }
            if (failed > 0)
            {
                output.WriteLine($"{failed} requests failed (HTTP errors or dropped connections).");
            }
            return failed == 0 ? 0 : 1;
        });
        return command;
    }
}
