using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpGpt.Training.Metrics;

/// <summary>
/// Appends metrics to metrics.jsonl, one JSON object per line, flushed as written so that a killed run keeps
/// its history. On resume, lines past the checkpoint's step are dropped so the log matches the weights.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private readonly StreamWriter _writer;

    public MetricsLog(string directory, int? resumeStep)
    {
        Path = System.IO.Path.Combine(directory, FileName);
        Directory.CreateDirectory(directory);
        if (resumeStep is int step && File.Exists(Path))
        {
            Records.AddRange(ReadAll(Path).Where(r => r.Step <= step && r.Event == null));
            File.WriteAllLines(Path, Records.Select(r => JsonSerializer.Serialize(r, Json)));
        }
        else if (resumeStep is null)
        {
            File.WriteAllText(Path, "");
        }
        _writer = new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public string Path { get; }

    /// <summary>Everything logged so far (this run and, after a resume, the earlier one).</summary>
    public List<MetricsRecord> Records { get; } = [];

    public void Write(MetricsRecord record)
    {
        Records.Add(record);
        _writer.WriteLine(JsonSerializer.Serialize(record, Json));
    }

    public static IEnumerable<MetricsRecord> ReadAll(string path) =>
        File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(l => JsonSerializer.Deserialize<MetricsRecord>(l, Json)!);

    public void Dispose() => _writer.Dispose();
}
