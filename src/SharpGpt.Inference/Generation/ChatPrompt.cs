using System.Text;

namespace SharpGpt.Inference.Generation;

/// <summary>One turn of a conversation: role ("system", "developer", "user" or "assistant") and text.</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// The plain-text chat template for base GPT models (they have no chat tokens): system text first, then
/// "User: …" and "Assistant: …" lines, ending with "Assistant:" for the model to continue. Generation stops
/// when the model starts the next turn. The HTTP chat endpoint and the in-process IChatClient share it.
/// </summary>
public static class ChatPrompt
{
    public static readonly IReadOnlyList<string> TurnStops = ["\nUser:", "\nSystem:"];

    public static string Render(IEnumerable<ChatTurn> turns)
    {
        var text = new StringBuilder();
        var list = turns.ToList();
        foreach (ChatTurn turn in list.Where(t => t.Role is "system" or "developer"))
        {
            text.Append(turn.Content.Trim()).Append("\n\n");
        }
        foreach (ChatTurn turn in list.Where(t => t.Role is "user" or "assistant"))
        {
            text.Append(turn.Role == "user" ? "User: " : "Assistant: ").Append(turn.Content.Trim()).Append('\n');
        }
        return text.Append("Assistant:").ToString();
    }
}
