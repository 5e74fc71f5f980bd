using Microsoft.Extensions.Options;
using SharpGpt.Inference;
using SharpGpt.Inference.Serving;
using SharpGpt.Model;

namespace SharpGpt.Server.Hosting;

/// <summary>A served model: its id, the loaded weights and tokenizer, and its batching engine.</summary>
public sealed record ServedModel(string Id, LanguageModel Model, GenerationEngine Engine, long Created)
{
    /// <summary>system_fingerprint: a digest of the architecture and the first weights, stable across restarts.</summary>
    public string Fingerprint { get; } = "fp_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(ConfigJson.Serialize(Model.Config) +
            string.Join(',', Model.Model.Parameters.Slice(0, (int)Math.Min(64, Model.Model.Parameters.Length)).ToArray()))))[..12];
}

/// <summary>
/// Loads the configured models and starts one engine each, at start-up: a missing folder, a broken file or a
/// KV budget that cannot fit stops the server before it listens, with a message that says why.
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    private readonly Dictionary<string, ServedModel> _models = new(StringComparer.Ordinal);

    public ModelRegistry(IOptions<ServerOptions> options)
    {
        ServerOptions o = options.Value;
        if (o.Threads is int threads)
        {
            Tensors.Threading.WorkerPool.ConfigureShared(threads);
        }
        var specs = o.Models.Count == 0 ? [(Id: (string?)null, Path: (string?)null)] : o.Models.Select(Parse).ToList();
        if (o.Adapter != null && specs.Count != 1)
        {
            throw new SharpGptException("--adapter applies to a single model.");
        }
        try
        {
            foreach ((string? id, string? path) in specs)
            {
                LanguageModel model = LanguageModel.LoadOrDefault(path, o.Adapter, LanguageModel.ParseQuantization(o.Quantize));
                try
                {
                    string name = id ?? (path == null ? "sharpgpt-default" : model.Name) + (o.Adapter != null ? "+" + Path.GetFileName(Path.TrimEndingDirectorySeparator(o.Adapter)) : "");
                    if (_models.ContainsKey(name))
                    {
                        throw new SharpGptException($"Two models are named '{name}'; give them ids with ID=DIR.");
                    }
                    var engine = new GenerationEngine(model, new EngineOptions
                    {
                        MaxSequences = o.MaxBatch,
                        MaxTokensPerStep = o.MaxTokensPerStep,
                        MaxContext = o.MaxContext is int c ? Math.Min(c, model.Config.ContextLength) : null,
                        QueueLength = o.QueueLength,
                        MemoryBudgetBytes = o.MemoryBudgetMiB * 1024 * 1024,
                    });
                    _models[name] = new ServedModel(name, model, engine, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                }
                catch
                {
                    model.Dispose();
                    throw;
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IEnumerable<ServedModel> Models => _models.Values;

    public bool TryGet(string id, out ServedModel model) => _models.TryGetValue(id, out model!);

    /// <summary>The only model, when exactly one is served (so "model" may be omitted by lenient clients).</summary>
    public ServedModel? Single => _models.Count == 1 ? _models.Values.First() : null;

    public bool Ready => _models.Count > 0 && _models.Values.All(m => m.Engine.IsRunning);

    private static (string? Id, string? Path) Parse(string spec)
    {
        int equals = spec.IndexOf('=');
        return equals > 0 ? (spec[..equals], spec[(equals + 1)..]) : (null, spec);
    }

    public void Dispose()
    {
        foreach (ServedModel served in _models.Values)
        {
            served.Engine.Dispose();
            served.Model.Dispose();
        }
        _models.Clear();
    }
}
