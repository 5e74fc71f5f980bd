using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpGpt.Inference;
using SharpGpt.Inference.Scoring;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt score`: the log-probability of every token of a text under the model.</summary>
internal static class ScoreCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model();
        var adapter = CommonOptions.Adapter();
        var quantize = CommonOptions.Quantize();
        var text = new Option<string?>("--text") { Description = "Text to score" };
        var ids = new Option<string?>("--ids") { Description = "Token ids to score (comma-separated)" };
        var json = new Option<bool>("--json") { Description = "Print JSON: tokens, token_ids, logprobs (null first), total_logprob" };
        var threads = CommonOptions.Threads();
        var command = new Command("score", "Score a text: log P(token | tokens before it) for every token.") { model, adapter, quantize, text, ids, json, threads };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            if ((parse.GetValue(text) == null) == (parse.GetValue(ids) == null))
            {
                throw new ArgumentException("give exactly one of --text or --ids.");
            }
            using LanguageModel language = LanguageModel.LoadOrDefault(parse.GetValue(model), parse.GetValue(adapter), LanguageModel.ParseQuantization(parse.GetValue(quantize)));
            int[] tokens = parse.GetValue(ids) is string idText ? CommonOptions.ParseIds(idText) : language.RequireTokenizer().Encode(parse.GetValue(text)!);
            ScoreReport report = Score(language, tokens);
            if (parse.GetValue(json))
            {
                output.WriteLine(report.ToJson());
            }
            else
            {
                for (int i = 0; i < tokens.Length; i++)
                {
                    string logprob = report.Logprobs[i] is double lp ? lp.ToString("F4") : "   -";
                    output.WriteLine($"{tokens[i],7}  {logprob,9}  {JsonSerializer.Serialize(report.Tokens[i])}");
                }
                output.WriteLine($"total log-probability {report.Total:F4} over {Math.Max(0, tokens.Length - 1)} predicted tokens" +
                    (tokens.Length > 1 ? $" (perplexity {Math.Exp(-report.Total / (tokens.Length - 1)):F2})" : ""));
            }
            return 0;
        });
        return command;
    }

    public static ScoreReport Score(LanguageModel language, int[] tokens)
    {
        using var session = ComputeBackends.Default.CreateInferenceSession(language.Model, slots: 1, maxTokensPerStep: Math.Clamp(tokens.Length, 1, 512),
            maxContext: Math.Clamp(tokens.Length, 1, language.Config.ContextLength));
        double?[] logprobs = TokenScorer.ScoreSequence(session, 0, tokens);
        string[] pieces = tokens.Select(t => language.Tokenizer?.TokenText(t) ?? t.ToString()).ToArray();
        return new ScoreReport(pieces, tokens, logprobs, logprobs.Sum(l => l ?? 0));
    }
}

/// <summary>The JSON `score` prints.</summary>
internal sealed record ScoreReport(string[] Tokens, int[] TokenIds, double?[] Logprobs, double Total)
{
    public string ToJson() => new JsonObject
    {
        ["tokens"] = new JsonArray(Tokens.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
        ["token_ids"] = new JsonArray(TokenIds.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
        ["logprobs"] = new JsonArray(Logprobs.Select(l => l is double v ? (JsonNode?)JsonValue.Create(v) : null).ToArray()),
        ["total_logprob"] = Total,
    }.ToJsonString();
}
