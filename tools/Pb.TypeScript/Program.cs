namespace Pb.TypeScript;

/// <summary>
/// Writes TypeScript interfaces for the PB contracts of a .NET assembly (docs/typescript.md).
/// Usage: <c>dotnet run --project tools/Pb.TypeScript -- &lt;assembly.dll&gt; &lt;out.ts&gt;</c>
/// </summary>
internal static class Tool
{
    private static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("Usage: Pb.TypeScript <assembly.dll> <out.ts>");
            return 2;
        }
        string text = TypeScriptContracts.Generate(TypeScriptContracts.Load(args[0]));
        string? folder = Path.GetDirectoryName(Path.GetFullPath(args[1]));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }
        File.WriteAllText(args[1], text.ReplaceLineEndings("\n"));
        Console.WriteLine($"wrote {args[1]}");
        return 0;
    }
}
