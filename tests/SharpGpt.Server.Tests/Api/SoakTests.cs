using System.Net;
using Xunit;

namespace SharpGpt.Server.Tests.Api;

/// <summary>
/// 1,000 mixed requests (plain, streaming, chat, cancelled mid-way, malformed) against one server: afterwards it
/// is healthy, every slot is free, nothing is queued, and managed memory is back near its baseline.
/// </summary>
public class SoakTests
{
    [Fact]
    public async Task ThousandMixedRequestsLeaveTheServerClean()
    {
        using var factory = new ServerFactory(new Dictionary<string, string> { ["SharpGpt:QueueLength"] = "2000" });
        HttpClient client = factory.CreateClient();
        await client.Post("/v1/completions", new { model = "tiny", prompt = "warm up", max_tokens = 2 });
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long baseline = GC.GetTotalMemory(forceFullCollection: true);

        var statuses = new System.Collections.Concurrent.ConcurrentBag<int>();
        using var throttle = new SemaphoreSlim(16);
        var tasks = Enumerable.Range(0, 1000).Select(async i =>
        {
            await throttle.WaitAsync();
            try
            {
                using var cancel = new CancellationTokenSource();
                if (i % 5 == 3)
                {
                    cancel.CancelAfter(TimeSpan.FromMilliseconds(1 + i % 7));
                }
                HttpResponseMessage response = (i % 5) switch
                {
                    0 => await client.Post("/v1/completions", new { model = "tiny", prompt = $"request {i}", max_tokens = 1 + i % 6, seed = i }),
                    1 => await client.Post("/v1/completions", new { model = "tiny", prompt = $"stream {i}", max_tokens = 4, stream = true }),
                    2 => await client.Post("/v1/chat/completions", new { model = "tiny", messages = new[] { new { role = "user", content = $"hi {i}" } }, max_tokens = 3 }),
                    3 => await client.PostAsync("/v1/completions",
                        new StringContent($"{{\"model\":\"tiny\",\"prompt\":\"cancel me {i}\",\"max_tokens\":60,\"stream\":{(i % 2 == 0 ? "true" : "false")}}}",
                            System.Text.Encoding.UTF8, "application/json"), cancel.Token),
                    _ => await client.Post("/v1/completions", i % 2 == 0 ? "{\"model\": \"tiny\", \"prompt\": " : "{\"model\": \"tiny\", \"temperature\": 9}"),
                };
                await response.Content.ReadAsStringAsync(cancel.Token);
                statuses.Add((int)response.StatusCode);
            }
            catch (OperationCanceledException)
            {
                statuses.Add(499);
            }
            finally
            {
                throttle.Release();
            }
        });
        await Task.WhenAll(tasks);

        Assert.DoesNotContain(statuses, s => s >= 500);
        Assert.Equal(200, statuses.Count(s => s == 400));
        Assert.True(statuses.Count(s => s == 200) >= 600);
        await BatchingTests.WaitUntil(() => factory.Statistics.ActiveSequences == 0 && factory.Statistics.QueueDepth == 0);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.Post("/v1/completions", new { model = "tiny", prompt = "still alive", max_tokens = 2 })).StatusCode);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        // Nothing per request may be retained: allow 16 MiB of noise (JIT, pools) over the baseline.
        Assert.True(after - baseline < 16 << 20, $"managed memory grew from {baseline / 1048576.0:F1} to {after / 1048576.0:F1} MiB");
    }
}
