using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using SharpGpt.Server.Hosting;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Server.Tests.EndToEnd;

/// <summary>
/// The server on a real socket, driven by real clients: the official OpenAI SDK for Node, and the demo page in
/// headless Chromium. The Node packages come from tests/e2e (scripts/test.sh runs npm ci there).
/// </summary>
public sealed class RealClientTests : IAsyncLifetime
{
    private WebApplication? _app;
    private string _url = "";

    public async Task InitializeAsync()
    {
        _app = ServerApp.Build([], new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["SharpGpt:Models:0"] = "tiny=" + TinyModel.Path,
            ["SharpGpt:MaxBatch"] = "4",
        });
        await _app.StartAsync();
        _url = _app.Urls.First();
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private static string E2eFolder => Path.Combine(TestData.RepositoryRoot, "tests", "e2e");

    private static (int ExitCode, string Output) Node(string script, params string[] args)
    {
        Assert.True(Directory.Exists(Path.Combine(E2eFolder, "node_modules")), "Run 'npm ci' in tests/e2e first (scripts/test.sh does).");
        var start = new ProcessStartInfo("node") { WorkingDirectory = E2eFolder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(), error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out\n" + output.Result + error.Result);
        }
        return (process.ExitCode, output.Result + error.Result);
    }

    [Fact]
    public void OfficialOpenAiSdkWorksAgainstTheServer()
    {
        var (code, output) = Node("openai-sdk.mjs", _url + "/v1");
        Assert.True(code == 0, output);
    }

    [Fact]
    public void DemoPageStreamsInHeadlessChromium()
    {
        string screenshot = Path.Combine(TestData.RepositoryRoot, "TestResults", "demo-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        var (code, output) = Node("demo-page.mjs", _url + "/", screenshot);
        Assert.True(code == 0, output);
        Assert.True(new FileInfo(screenshot).Length > 10_000, "no screenshot was saved");
    }
}
