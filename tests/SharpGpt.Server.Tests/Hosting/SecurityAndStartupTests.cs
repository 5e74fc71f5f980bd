using System.Net;
using System.Net.Http.Headers;
using SharpGpt.Model;
using SharpGpt.Server.Hosting;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Server.Tests.Hosting;

public class SecurityAndStartupTests
{
    [Fact]
    public async Task ApiKeysAreRequiredOnV1WhenConfigured()
    {
        using var factory = new ServerFactory(new Dictionary<string, string> { ["SharpGpt:ApiKeys:0"] = "secret-key-1", ["SharpGpt:ApiKeys:1"] = "another" });
        HttpClient client = factory.CreateClient();
        HttpResponseMessage missing = await client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("invalid_api_key", (await missing.Json()).GetProperty("error").GetProperty("code").GetString());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "secret-key-2");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/v1/models")).StatusCode);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "another");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/models")).StatusCode);
        // Health and the demo page stay open for load balancers and browsers.
        client.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public void AnImpossibleKvBudgetFailsAtStartUpWithTheReason()
    {
        var ex = Assert.Throws<SharpGptException>(() => ServerApp.Build([], new Dictionary<string, string?>
        {
            ["SharpGpt:Models:0"] = TinyModel.Path,
            ["SharpGpt:MaxBatch"] = "1000",
            ["SharpGpt:MaxTokensPerStep"] = "1000",
            ["SharpGpt:MemoryBudgetMiB"] = "1",
            ["urls"] = "http://127.0.0.1:0",
        }));
        Assert.Contains("KV cache", ex.Message);
        Assert.Contains("--max-batch", ex.Message);
    }

    [Fact]
    public void InvalidOptionsAndMissingModelsFailAtStartUp()
    {
        var ex = Assert.ThrowsAny<SharpGptException>(() => ServerApp.Build([], new Dictionary<string, string?> { ["SharpGpt:Models:0"] = "/no/such/model" }));
        Assert.Contains("/no/such/model", ex.Message);
        ex = Assert.ThrowsAny<SharpGptException>(() => ServerApp.Build([], new Dictionary<string, string?>
        {
            ["SharpGpt:Models:0"] = TinyModel.Path,
            ["SharpGpt:MaxBatch"] = "0",
        }));
        Assert.Contains("MaxBatch", ex.Message);
    }
}
