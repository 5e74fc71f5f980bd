using System.ComponentModel.DataAnnotations;

namespace SharpGpt.Server.Hosting;

/// <summary>
/// Everything `sharpgpt serve` can be told, bound once from configuration (section "SharpGpt": command-line
/// flags, environment variables SharpGpt__MaxBatch=16, or appsettings.json) and validated at start-up.
/// </summary>
public sealed class ServerOptions
{
    public const string Section = "SharpGpt";

    /// <summary>Model folders, each "DIR" or "ID=DIR"; none means the built-in default model.</summary>
    public List<string> Models { get; set; } = [];

    /// <summary>A LoRA adapter folder applied to the (single) model.</summary>
    public string? Adapter { get; set; }

    /// <summary>Sequences decoded together per model (KV-cache slots).</summary>
    [Range(1, 1024)]
    public int MaxBatch { get; set; } = 8;

    /// <summary>Rows per batched step (decode rows plus prefill chunk).</summary>
    [Range(1, 65536)]
    public int MaxTokensPerStep { get; set; } = 256;

    /// <summary>Positions per sequence; default the model's context length.</summary>
    [Range(2, 1 << 20)]
    public int? MaxContext { get; set; }

    /// <summary>Requests waiting for a slot before the server answers 429.</summary>
    [Range(0, 1 << 20)]
    public int QueueLength { get; set; } = 64;

    /// <summary>Longest a request may run, in seconds.</summary>
    [Range(0.01, 86400)]
    public double RequestTimeoutSeconds { get; set; } = 300;

    /// <summary>Bearer keys accepted on /v1/*; none means no authentication.</summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>Origins allowed by CORS ("*" for any); none disables CORS.</summary>
    public List<string> CorsOrigins { get; set; } = [];

    /// <summary>Largest accepted request body.</summary>
    [Range(1024, 1L << 30)]
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>Memory the KV caches may use, in MiB; default 80% of what the process can use.</summary>
    [Range(1, 1L << 30)]
    public long? MemoryBudgetMiB { get; set; }

    /// <summary>Quantize the served models' matrices at load time: "int8", "q4" or "bf16" (none by default).</summary>
    public string? Quantize { get; set; }

    /// <summary>Worker threads for the compute engine.</summary>
    [Range(1, 1024)]
    public int? Threads { get; set; }
}
