using System.CommandLine;
using SharpGpt.Inference;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt generate`: stream a continuation of a prompt to the console.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model();
        var adapter = CommonOptions.Adapter();
        var quantize = CommonOptions.Quantize();
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text" };
        var promptFile = new Option<FileInfo?>("--prompt-file") { Description = "Read the prompt text from this UTF-8 file (long prompts)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids (for models without a tokenizer)" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate", DefaultValueFactory = _ => 100 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding (same as --temperature 0)" };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature, 0–2 (0 = greedy)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens (0 = off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling: smallest set with this probability mass (1 = off)", DefaultValueFactory = _ => 1f };
        var presence = new Option<float>("--presence-penalty") { Description = "OpenAI presence penalty, -2–2" };
        var frequency = new Option<float>("--frequency-penalty") { Description = "OpenAI frequency penalty, -2–2" };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed: the same seed and settings give the same text" };
        var stop = new Option<string[]>("--stop") { Description = "Stop sequence (repeatable, up to 4); it is not printed", AllowMultipleArgumentsPerToken = false };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep going after <|endoftext|>" };
        var showIds = new Option<bool>("--ids") { Description = "Print token ids instead of text" };
        var threads = CommonOptions.Threads();
        var command = new Command("generate", "Generate text from a prompt, streaming tokens as they come.")
        {
            model, adapter, quantize, prompt, promptFile, promptIds, maxTokens, greedy, temperature, topK, topP, presence, frequency, seed, stop, ignoreEos, showIds, threads,
        };
        command.SetAction((parse, cancellation) =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            string? text = parse.GetValue(prompt);
            string? ids = parse.GetValue(promptIds);
            FileInfo? file = parse.GetValue(promptFile);
            if ((text != null ? 1 : 0) + (ids != null ? 1 : 0) + (file != null ? 1 : 0) != 1)
            {
                throw new ArgumentException("give exactly one of --prompt, --prompt-file or --prompt-ids.");
            }
            if (file != null)
            {
                text = file.Exists
                    ? File.ReadAllText(file.FullName)
                    : throw new FileNotFoundException($"prompt file '{file.FullName}' does not exist.");
            }
            string[] stops = parse.GetValue(stop) ?? [];
            if (stops.Length > 4)
            {
                throw new ArgumentException("at most 4 stop sequences.");
            }
            if (parse.GetValue(maxTokens) < 1)
            {
                throw new ArgumentException("--max-tokens must be at least 1.");
            }
            var sampling = new SamplingOptions
            {
                Temperature = parse.GetValue(greedy) ? 0f : parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                PresencePenalty = parse.GetValue(presence),
                FrequencyPenalty = parse.GetValue(frequency),
                Seed = parse.GetValue(seed),
            };
            if (sampling.Validate() is string problem)
            {
                throw new ArgumentException(problem.Replace("_", "-") + ".");
            }
            var options = new GenerationOptions
            {
                MaxTokens = parse.GetValue(maxTokens),
                Stop = stops,
                StopAtEndOfText = !parse.GetValue(ignoreEos),
                Sampling = sampling,
            };
            using LanguageModel language = LanguageModel.LoadOrDefault(parse.GetValue(model), parse.GetValue(adapter), LanguageModel.ParseQuantization(parse.GetValue(quantize)));
            foreach (string warning in language.Warnings)
            {
                Console.Error.WriteLine($"warning: {warning}");
            }
            bool printIds = parse.GetValue(showIds) || language.Tokenizer == null;
            int[] promptTokens = ids != null ? CommonOptions.ParseIds(ids) : language.RequireTokenizer().Encode(text!);
            using var session = ComputeBackends.Default.CreateInferenceSession(language.Model, slots: 1, maxTokensPerStep: 256);
            var generator = new TextGenerator(language);
            if (!printIds)
            {
                output.Write(text ?? "");
            }
            FinishReason? finish = null;
            foreach (GenerationEvent step in generator.Generate(session, 0, promptTokens, options, cancellation))
            {
                output.Write(printIds ? $"{step.Token} " : step.Text);
                output.Flush();
                finish = step.Finish;
            }
            output.WriteLine();
            Console.Error.WriteLine($"[finish: {finish?.ToString().ToLowerInvariant() ?? "length"}]");
            return Task.FromResult(0);
        });
        return command;
    }
}
