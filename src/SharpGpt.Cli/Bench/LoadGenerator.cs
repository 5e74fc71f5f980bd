using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace SharpGpt.Cli.Bench;

/// <summary>The numbers of one concurrency level.</summary>
internal sealed record LoadResult(int Concurrency, int Requests, int Errors, long Tokens, double Seconds, double P50Ttft, double P99Ttft, double MeanLatency)
{
    public double TokensPerSecond => Tokens / Seconds;
}

/// <summary>
/// A small closed-loop load generator for the Completions API: C workers each keep one streaming request in
/// flight; time to first token is measured at the first streamed text, throughput as completion tokens over
/// wall time. It can also run a soak: many mixed requests, some cancelled and some malformed.
/// </summary>
internal sealed class LoadGenerator(Uri baseUrl, string? apiKey)
{
    private readonly HttpClient _http = new() { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(10) };

    private HttpRequestMessage Request(string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey != null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        return request;
    }

    public async Task<LoadResult> RunLevel(int concurrency, int requests, string prompt, int maxTokens, CancellationToken cancellation)
    {
        var ttfts = new List<double>();
        var latencies = new List<double>();
        long tokens = 0;
        int errors = 0, next = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            while (Interlocked.Increment(ref next) <= requests)
            {
                string json = JsonSerializer.Serialize(new
                {
                    prompt, max_tokens = maxTokens, stream = true, temperature = 0.8, seed = next, stream_options = new { include_usage = true },
                });
                var started = Stopwatch.StartNew();
                double? ttft = null;
                long received = 0;
                try
                {
                    using HttpResponseMessage response = await _http.SendAsync(Request(json), HttpCompletionOption.ResponseHeadersRead, cancellation);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation));
                    while (await reader.ReadLineAsync(cancellation) is string line)
                    {
                        if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
                        {
                            continue;
                        }
                        using JsonDocument chunk = JsonDocument.Parse(line[6..]);
                        if (chunk.RootElement.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
                        {
                            received = usage.GetProperty("completion_tokens").GetInt64();
                        }
                        else if (ttft == null)
                        {
                            ttft = started.Elapsed.TotalSeconds;
                        }
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                    continue;
                }
                Interlocked.Add(ref tokens, received);
                lock (ttfts)
                {
                    ttfts.Add(ttft ?? started.Elapsed.TotalSeconds);
                    latencies.Add(started.Elapsed.TotalSeconds);
                }
            }
        }));
        double seconds = clock.Elapsed.TotalSeconds;
        ttfts.Sort();
        return new LoadResult(concurrency, requests, errors, tokens, seconds, Percentile(ttfts, 0.50), Percentile(ttfts, 0.99),
            latencies.Count == 0 ? double.NaN : latencies.Average());
    }

    /// <summary>Mixed traffic: plain, streaming, cancelled after a few milliseconds, and malformed requests.</summary>
    public async Task<(int Ok, int ClientErrors, int ServerErrors, int Cancelled)> Soak(int requests, int concurrency, CancellationToken cancellation)
    {
        int ok = 0, clientErrors = 0, serverErrors = 0, cancelled = 0, next = 0;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) <= requests)
            {
                string json = (i % 5) switch
                {
                    0 or 1 => JsonSerializer.Serialize(new { prompt = $"soak {i}", max_tokens = 1 + i % 16, stream = i % 2 == 0 }),
                    2 => JsonSerializer.Serialize(new { prompt = $"long soak {i}", max_tokens = 64, stream = true }),
                    3 => i % 2 == 0 ? "{\"prompt\": " : "{\"prompt\": \"x\", \"temperature\": 9}",
                    _ => JsonSerializer.Serialize(new { prompt = new[] { 1, 2, 3 }, max_tokens = 0, echo = true, logprobs = 1 }),
                };
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                if (i % 5 == 2)
                {
                    cancel.CancelAfter(TimeSpan.FromMilliseconds(5 + i % 50));
                }
                try
                {
                    using HttpResponseMessage response = await _http.SendAsync(Request(json), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
                    await response.Content.ReadAsStringAsync(cancel.Token);
                    int status = (int)response.StatusCode;
                    if (status >= 500)
                    {
                        Interlocked.Increment(ref serverErrors);
                    }
                    else if (status >= 400)
                    {
                        Interlocked.Increment(ref clientErrors);
                    }
                    else
                    {
                        Interlocked.Increment(ref ok);
                    }
                }
                catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                {
                    Interlocked.Increment(ref cancelled);
                }
            }
        }));
        return (ok, clientErrors, serverErrors, cancelled);
    }

    public async Task<JsonElement> Ready() => JsonDocument.Parse(await _http.GetStringAsync("ready")).RootElement;

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
}
