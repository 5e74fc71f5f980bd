using System.CommandLine;
using System.Diagnostics;
using SharpGpt.Inference;
using SharpGpt.Inference.Scoring;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Checkpoints.Quantized;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Training.Data;

namespace SharpGpt.Cli.Commands;

/// <summary>
/// `sharpgpt perplexity`: mean cross-entropy and perplexity of a model on a prepared split, through the
/// inference path; with --compare-quantization it also measures int8 and q4 and prints the deltas.
/// </summary>
internal static class PerplexityCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model();
        var data = new Option<string>("--data", "-d") { Description = "Folder made by 'sharpgpt prepare'", Required = true };
        var split = new Option<string>("--split") { Description = "validation or train", DefaultValueFactory = _ => "validation" };
        var seq = new Option<int?>("--seq") { Description = "Window length (default: the context length, at most 1024)" };
        var maxTokens = new Option<long>("--max-tokens") { Description = "Tokens to score at most", DefaultValueFactory = _ => 65536 };
        var quantize = CommonOptions.Quantize();
        var compare = new Option<bool>("--compare-quantization") { Description = "Also score with int8, q4 and bf16 weights and report the loss deltas" };
        var threads = CommonOptions.Threads();
        var command = new Command("perplexity", "Loss and perplexity of a model on a prepared dataset split (windows of --seq tokens).")
        {
            model, data, split, seq, maxTokens, quantize, compare, threads,
        };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            using var dataset = TokenDataset.Open(parse.GetValue(data)!);
            TokenStream stream = parse.GetValue(split) switch
            {
                "validation" or "val" => dataset.Validation,
                "train" => dataset.Train,
                var other => throw new ArgumentException($"unknown split '{other}' (validation or train)."),
            };
            using LanguageModel language = LanguageModel.LoadOrDefault(parse.GetValue(model), quantize: LanguageModel.ParseQuantization(parse.GetValue(quantize)),
                // Comparing quantizations re-quantizes from the fp32 weights.
                keepFloatWeights: parse.GetValue(compare));
            int time = Math.Min(parse.GetValue(seq) ?? Math.Min(language.Config.ContextLength, 1024), language.Config.ContextLength);
            var results = new List<(string Name, double Loss, double Seconds, long Tokens)>
            {
                Measure(language, stream, time, parse.GetValue(maxTokens), language.Model.Quantized is { } q ? QuantizedCheckpoint.KindName(q.Kind) : "fp32"),
            };
            if (parse.GetValue(compare))
            {
                foreach (QuantizationKind kind in Enum.GetValues<QuantizationKind>())
                {
                    language.Model.Quantize(kind);
                    results.Add(Measure(language, stream, time, parse.GetValue(maxTokens), QuantizedCheckpoint.KindName(kind)));
                }
            }
            output.WriteLine($"{"weights",-8} {"loss",8} {"perplexity",11} {"Δloss vs first",15} {"tokens",8} {"tok/s",8}");
            foreach (var r in results)
            {
                output.WriteLine($"{r.Name,-8} {r.Loss,8:F5} {Math.Exp(r.Loss),11:F3} {(r.Loss - results[0].Loss) / results[0].Loss,14:P3} {r.Tokens,8} {r.Tokens / r.Seconds,8:F0}");
            }
            return 0;
        });
        return command;
    }

    private static (string, double, double, long) Measure(LanguageModel language, TokenStream stream, int time, long maxTokens, string name)
    {
        using var session = ComputeBackends.Default.CreateInferenceSession(language.Model, slots: 1, maxTokensPerStep: time, maxContext: time);
        long windows = Math.Min((stream.Count - 1) / time, Math.Max(1, maxTokens / time));
        if (windows < 1)
        {
            throw new ArgumentException($"the split has {stream.Count} tokens, fewer than one window of {time + 1}.");
        }
        int[] buffer = new int[time + 1];
        double sum = 0;
        long count = 0;
        var clock = Stopwatch.StartNew();
        for (long w = 0; w < windows; w++)
        {
            stream.Read(w * (stream.Count - 1 - time) / Math.Max(1, windows - 1), buffer);
            session.Reset(0);
            foreach (TokenScore score in TokenScorer.ScoreNext(session, 0, buffer.AsSpan(0, time), buffer.AsSpan(1, time)))
            {
                sum -= score.Logprob;
                count++;
            }
        }
        return (name, sum / count, clock.Elapsed.TotalSeconds, count);
    }
}
