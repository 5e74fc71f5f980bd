using Prometheus;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Observability;

/// <summary>
/// Prometheus metrics (prometheus-net) in a registry of this server instance: requests and errors by status,
/// queue depth, active sequences, KV-cache occupancy, time to first token, generated tokens (a counter whose
/// rate is tokens/s) and per-step throughput.
/// </summary>
public sealed class ServerMetrics
{
    private readonly Counter _requests, _errors, _tokens, _promptTokens;
    private readonly Histogram _timeToFirstToken;

    public ServerMetrics(ModelRegistry models)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _requests = factory.CreateCounter("sharpgpt_requests_total", "Requests by endpoint.", "endpoint");
        _errors = factory.CreateCounter("sharpgpt_errors_total", "Error responses by HTTP status.", "status");
        _tokens = factory.CreateCounter("sharpgpt_generated_tokens_total", "Generated tokens (rate = tokens/s).", "model");
        _promptTokens = factory.CreateCounter("sharpgpt_prompt_tokens_total", "Prompt tokens processed.", "model");
        _timeToFirstToken = factory.CreateHistogram("sharpgpt_time_to_first_token_seconds", "Time from admission request to first generated token.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });
        Gauge queue = factory.CreateGauge("sharpgpt_queue_depth", "Requests waiting for a KV slot.", "model");
        Gauge active = factory.CreateGauge("sharpgpt_active_sequences", "Sequences holding a KV slot.", "model");
        Gauge occupancy = factory.CreateGauge("sharpgpt_kv_cache_occupancy_ratio", "Cached positions over KV-cache capacity.", "model");
        Gauge slots = factory.CreateGauge("sharpgpt_kv_slots", "KV-cache slots (max batch).", "model");
        var lastTotals = new Dictionary<string, (long Generated, long Prompt)>();
        foreach (ServedModel model in models.Models)
        {
            model.Engine.Statistics.FirstToken += latency => _timeToFirstToken.WithLabels(model.Id).Observe(latency.TotalSeconds);
        }
        Registry.AddBeforeCollectCallback(() =>
        {
            foreach (ServedModel model in models.Models)
            {
                var s = model.Engine.Statistics;
                queue.WithLabels(model.Id).Set(s.QueueDepth);
                active.WithLabels(model.Id).Set(s.ActiveSequences);
                occupancy.WithLabels(model.Id).Set(s.KvCacheOccupancy);
                slots.WithLabels(model.Id).Set(model.Engine.Options.MaxSequences);
                lock (lastTotals)
                {
                    var last = lastTotals.GetValueOrDefault(model.Id);
                    _tokens.WithLabels(model.Id).Inc(s.GeneratedTokens - last.Generated);
                    _promptTokens.WithLabels(model.Id).Inc(s.PromptTokens - last.Prompt);
                    lastTotals[model.Id] = (s.GeneratedTokens, s.PromptTokens);
                }
            }
        });
    }

    public CollectorRegistry Registry { get; }

    public void Request(string endpoint) => _requests.WithLabels(endpoint).Inc();

    public void Error(int status) => _errors.WithLabels(status.ToString()).Inc();
}
