using SharpGpt.Evaluation.Tasks;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Evaluation.Tests.Tasks;

/// <summary>
/// Approval tests: the exact prompt of the first item of each built-in task at 0, 1 and 3 shots is compared
/// with a reviewed file in Approved/. A change in formatting fails here and shows the new prompt in a
/// .received file next to the approved one, to be reviewed and renamed if intended.
/// </summary>
public class PromptApprovalTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string task in TaskCatalog.Names.Where(n => n != "storycloze"))
        {
            foreach (int shots in new[] { 0, 1, 3 })
            {
                data.Add(task, shots);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PromptMatchesTheApprovedFile(string name, int shots)
    {
        LoadedTask task = TaskCatalog.Load(name);
        string rendered = Render(task, shots);
        string approved = Path.Combine(TestData.RepositoryRoot, "tests", "SharpGpt.Evaluation.Tests", "Approved", $"{name}.k{shots}.txt");
        string received = Path.ChangeExtension(approved, ".received.txt");
        if (!File.Exists(approved) || File.ReadAllText(approved) != rendered)
        {
            File.WriteAllText(received, rendered);
            Assert.Fail($"The {name} prompt at {shots} shots differs from {approved}; see {received}.");
        }
        if (File.Exists(received))
        {
            File.Delete(received);
        }
    }

    /// <summary>What the model sees for item 0: each scored context and continuation, marked so whitespace is visible.</summary>
    internal static string Render(LoadedTask task, int shots)
    {
        EvalItem item = task.Items[0];
        int[] chosen = FewShotPromptBuilder.Choose(task, item, shots, seed: 1234);
        string prefix = FewShotPromptBuilder.Prefix(task, chosen, chosen.Length);
        EvalTask t = task.Task;
        var lines = new List<string> { $"# {t.Name}, {shots} shots, demonstrations {string.Join(",", chosen.Select(i => task.DemonstrationPool[i].Index))}" };
        IEnumerable<(string Context, string Continuation)> pairs = t.Kind switch
        {
            TaskKind.MultipleChoice => item.Choices.Select(c => (prefix + t.QueryText(item), t.ContinuationDelimiter + c)),
            TaskKind.PartialScoring => item.Choices.Select((_, i) => (prefix + t.QueryText(item, i), t.ContinuationDelimiter + item.Target)),
            _ => [(prefix + t.QueryText(item), t.ContinuationDelimiter + item.Target)],
        };
        foreach ((string context, string continuation) in pairs)
        {
            lines.Add("<<<" + context + "|||" + continuation + ">>>");
        }
        return string.Join("\n", lines) + "\n";
    }
}
