using System.Numerics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Pb.Jelly;

namespace Pb.TypeScript;

/// <summary>
/// Writes TypeScript interfaces for an assembly's PB contracts: every Referenceable or Viewable with [Remote] methods
/// (named and shaped as the broker binds them: a Viewable's perspective, cancellation tokens, call contexts and
/// services are not the peer's to pass), and every record those methods take or answer (keys as they travel). Use the
/// interfaces with <c>RemoteReference.as&lt;T&gt;()</c> of @pb-web/client.
/// </summary>
public static class TypeScriptContracts
{
    /// <summary>The TypeScript module for <paramref name="assembly"/>, deterministic (types and members sorted).</summary>
    public static string Generate(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var writer = new Writer();
        Type[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = [.. e.Types.Where(t => t is not null)!];
        }
        foreach (Type type in types.Where(IsService).OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            writer.Service(type);
        }
        return writer.ToString(assembly.GetName().Name ?? "assembly");
    }

    private static bool IsService(Type t) =>
        t is { IsAbstract: false, IsGenericTypeDefinition: false }
        && (typeof(Referenceable).IsAssignableFrom(t) || typeof(Viewable).IsAssignableFrom(t))
        && RemoteMethodTable.For(t).Methods.Any();

    private sealed class Writer
    {
        private readonly SortedDictionary<string, string> _services = new(StringComparer.Ordinal);
        private readonly SortedDictionary<string, string> _records = new(StringComparer.Ordinal);
        private readonly HashSet<Type> _seen = [];
        private bool _usesPbValue, _usesReference, _usesCache;

        public void Service(Type type)
        {
            var sb = new StringBuilder();
            Doc(sb, $"{(typeof(Viewable).IsAssignableFrom(type) ? "Viewable" : typeof(Avatar).IsAssignableFrom(type) ? "Avatar" : "Referenceable")} {type.FullName}: `reference.as<{type.Name}>()`.");
            sb.Append("export interface ").Append(type.Name).Append(" {\n");
            foreach (RemoteMethod method in RemoteMethodTable.For(type).Methods)
            {
                sb.Append("  ").Append(Identifier(method.Name)).Append('(');
                sb.Append(string.Join(", ", method.WireParameters.Select(p => $"{Identifier(CamelCase(p.Name))}{(p.IsOptional ? "?" : "")}: {Ts(p.Type)}")));
                sb.Append("): ").Append(Ts(Unwrap(method.Method.ReturnType))).Append(";\n");
            }
            sb.Append("}\n");
            _services[type.Name] = sb.ToString();
        }

        private static Type Unwrap(Type t) =>
            t == typeof(Task) || t == typeof(ValueTask) ? typeof(void)
            : t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(Task<>) || t.GetGenericTypeDefinition() == typeof(ValueTask<>)) ? t.GetGenericArguments()[0]
            : t;

        private string Ts(Type t)
        {
            if (t == typeof(void))
            {
                return "void";
            }
            if (Nullable.GetUnderlyingType(t) is { } inner)
            {
                return Ts(inner) + " | null";
            }
            if (t == typeof(string) || t == typeof(char))
            {
                return "string";
            }
            if (t == typeof(bool))
            {
                return "boolean";
            }
            if (t == typeof(long) || t == typeof(ulong) || t == typeof(BigInteger) || t == typeof(Int128) || t == typeof(UInt128))
            {
                return "number | bigint"; // a safe integer arrives as a number, a larger one as a bigint
            }
            if (t.IsPrimitive || t.IsEnum || t == typeof(Half))
            {
                return "number";
            }
            if (t == typeof(decimal))
            {
                return "PbDecimal";
            }
            if (t == typeof(byte[]) || t == typeof(ReadOnlyMemory<byte>))
            {
                return "Uint8Array";
            }
            if (t == typeof(DateTime))
            {
                return "PbDateTime";
            }
            if (t == typeof(DateOnly))
            {
                return "PbDate";
            }
            if (t == typeof(TimeOnly))
            {
                return "PbTime";
            }
            if (t == typeof(TimeSpan))
            {
                return "PbTimedelta";
            }
            if (typeof(Referenceable).IsAssignableFrom(t) || typeof(Viewable).IsAssignableFrom(t) || t == typeof(RemoteReference))
            {
                _usesReference = true;
                return "RemoteReference";
            }
            if (typeof(Cacheable).IsAssignableFrom(t))
            {
                _usesCache = true;
                return "RemoteCache";
            }
            if (t.IsArray && t.GetArrayRank() == 1)
            {
                return Array(Ts(t.GetElementType()!));
            }
            if (t.IsGenericType)
            {
                Type def = t.GetGenericTypeDefinition();
                Type[] args = t.GetGenericArguments();
                if (def == typeof(List<>) || def == typeof(IList<>) || def == typeof(IReadOnlyList<>) || def == typeof(IEnumerable<>)
                    || def == typeof(ICollection<>) || def == typeof(IReadOnlyCollection<>))
                {
                    return Array(Ts(args[0]));
                }
                if ((def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>) || def == typeof(IReadOnlyDictionary<,>)) && args[0] == typeof(string))
                {
                    return $"Record<string, {Ts(args[1])}>";
                }
                if (def == typeof(HashSet<>) || def == typeof(ISet<>) || def == typeof(IReadOnlySet<>))
                {
                    return $"Set<{Ts(args[0])}>";
                }
            }
            if (RecordShape.ForReading(t) is { } shape && t != typeof(object))
            {
                Record(t, shape);
                return t.Name;
            }
            _usesPbValue = true;
            return "PbValue";
        }

        private static string Array(string element) => element.Contains(' ', StringComparison.Ordinal) ? $"({element})[]" : element + "[]";

        private void Record(Type type, RecordShape shape)
        {
            if (!_seen.Add(type))
            {
                return;
            }
            if (_records.ContainsKey(type.Name) || _services.ContainsKey(type.Name))
            {
                throw new InvalidOperationException($"Two contract types are named {type.Name} ({type.FullName} is the second): TypeScript interfaces need distinct names.");
            }
            var sb = new StringBuilder();
            Doc(sb, $"Record {type.FullName}: a dict with text keys on the wire.");
            sb.Append("export interface ").Append(type.Name).Append(" {\n");
            foreach (RecordShape.Member m in shape.Members)
            {
                sb.Append("  readonly ").Append(Identifier(m.Name)).Append(m.Required ? "" : "?").Append(": ").Append(Ts(m.Type));
                sb.Append(m.AllowsNull && Nullable.GetUnderlyingType(m.Type) is null && !m.Type.IsValueType ? " | null" : "").Append(";\n");
            }
            sb.Append("}\n");
            _records[type.Name] = sb.ToString();
        }

        private static void Doc(StringBuilder sb, string text) => sb.Append("/** ").Append(text).Append(" */\n");

        private static string CamelCase(string name) => name.Length == 0 || char.IsLower(name[0]) ? name : char.ToLowerInvariant(name[0]) + name[1..];

        private static string Identifier(string name) => name.All(c => char.IsLetterOrDigit(c) || c is '_' or '$') && !char.IsDigit(name[0]) ? name : $"\"{name}\"";

        public string ToString(string source)
        {
            var sb = new StringBuilder();
            sb.Append("// Generated by tools/Pb.TypeScript from ").Append(source).Append(".dll: do not edit; run it again after changing the C# contracts.\n");
            sb.Append("// dotnet run --project tools/Pb.TypeScript -- <assembly.dll> <out.ts>\n");
            var imports = new List<string>();
            if (_usesPbValue)
            {
                imports.Add("PbValue");
            }
            if (_usesReference)
            {
                imports.Add("RemoteReference");
            }
            if (_usesCache)
            {
                imports.Add("RemoteCache");
            }
            string all = string.Concat(_services.Values) + string.Concat(_records.Values);
            foreach (string name in new[] { "PbDateTime", "PbDate", "PbTime", "PbTimedelta", "PbDecimal" })
            {
                if (all.Contains(": " + name, StringComparison.Ordinal) || all.Contains(name + "[]", StringComparison.Ordinal) || all.Contains("<" + name, StringComparison.Ordinal))
                {
                    imports.Add(name);
                }
            }
            if (imports.Count > 0)
            {
                sb.Append("import type { ").Append(string.Join(", ", imports.Order(StringComparer.Ordinal))).Append(" } from \"@pb-web/client\";\n");
            }
            foreach (string text in _services.Values.Concat(_records.Values))
            {
                sb.Append('\n').Append(text);
            }
            return sb.ToString();
        }
    }

    /// <summary>Loads <paramref name="path"/> with its own folder as the place its dependencies come from.</summary>
    public static Assembly Load(string path)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            File.Exists(Path.Combine(folder, name.Name + ".dll")) ? context.LoadFromAssemblyPath(Path.Combine(folder, name.Name + ".dll")) : null;
        return AssemblyLoadContext.Default.LoadFromAssemblyPath(full);
    }
}
