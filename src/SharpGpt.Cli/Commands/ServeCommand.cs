using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt serve`: the OpenAI-compatible HTTP API and the demo page.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter output)
    {
        var models = new Option<string[]>("--model", "-m") { Description = "Model folder, or ID=DIR; repeat to serve several (default: the built-in model)" };
        var adapter = CommonOptions.Adapter();
        var quantize = CommonOptions.Quantize();
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on", DefaultValueFactory = _ => ServerApp.DefaultUrls };
        var maxBatch = new Option<int>("--max-batch") { Description = "Sequences decoded together (KV slots) per model", DefaultValueFactory = _ => 8 };
        var maxContext = new Option<int?>("--max-context") { Description = "Positions per sequence (default: the model's context)" };
        var stepTokens = new Option<int>("--max-tokens-per-step") { Description = "Rows per batched step (decode rows + prefill chunk)", DefaultValueFactory = _ => 256 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot before 429", DefaultValueFactory = _ => 64 };
        var timeout = new Option<double>("--timeout") { Description = "Per-request timeout in seconds", DefaultValueFactory = _ => 300 };
        var keys = new Option<string[]>("--api-key") { Description = "Require this Bearer key on /v1 (repeatable; also SharpGpt__ApiKeys__0)" };
        var cors = new Option<string[]>("--cors") { Description = "Allowed CORS origin (repeatable; * for any)" };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes", DefaultValueFactory = _ => 1 << 20 };
        var memory = new Option<long?>("--memory-budget") { Description = "MiB the KV caches may use (default: 80% of available memory)" };
        var threads = CommonOptions.Threads();
        var command = new Command("serve", "Serve models over an OpenAI-compatible API (Completions, Chat) with continuous batching, plus a demo page at /.")
        {
            models, adapter, quantize, urls, maxBatch, maxContext, stepTokens, queue, timeout, keys, cors, maxBody, memory, threads,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var settings = new Dictionary<string, string?>
            {
                ["urls"] = parse.GetValue(urls),
                ["SharpGpt:Adapter"] = parse.GetValue(adapter),
                ["SharpGpt:Quantize"] = parse.GetValue(quantize),
                ["SharpGpt:MaxBatch"] = parse.GetValue(maxBatch).ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:MaxContext"] = parse.GetValue(maxContext)?.ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:MaxTokensPerStep"] = parse.GetValue(stepTokens).ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:QueueLength"] = parse.GetValue(queue).ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:RequestTimeoutSeconds"] = parse.GetValue(timeout).ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:MaxRequestBodyBytes"] = parse.GetValue(maxBody).ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:MemoryBudgetMiB"] = parse.GetValue(memory)?.ToString(CultureInfo.InvariantCulture),
                ["SharpGpt:Threads"] = parse.GetValue(threads)?.ToString(CultureInfo.InvariantCulture),
            };
            Add(settings, "Models", parse.GetValue(models));
            Add(settings, "ApiKeys", parse.GetValue(keys));
            Add(settings, "CorsOrigins", parse.GetValue(cors));
            WebApplication app = ServerApp.Build([], settings);
            await app.StartAsync(cancellation);
            foreach (ServedModel model in app.Services.GetRequiredService<ModelRegistry>().Models)
            {
                output.WriteLine($"serving {model.Id} ({model.Model.Model.Layout.ParameterCount:N0} parameters, batch {model.Engine.Options.MaxSequences}, context {model.Engine.MaxContext})");
            }
            output.WriteLine($"listening on {string.Join(", ", app.Urls)} — demo page at /, API at /v1, metrics at /metrics, OpenAPI at /openapi/v1.json");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellation);
            }
            catch (OperationCanceledException)
            {
            }
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            return 0;
        });
        return command;
    }

    private static void Add(Dictionary<string, string?> settings, string key, string[]? values)
    {
        for (int i = 0; values != null && i < values.Length; i++)
        {
            settings[$"SharpGpt:{key}:{i}"] = values[i];
        }
    }
}
