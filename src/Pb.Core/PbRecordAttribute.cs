namespace Pb;

/// <summary>How the members of a typed value are named on the wire (keys of the jelly dict).</summary>
public enum PbNamingPolicy
{
    /// <summary><c>Score</c> travels as <c>score</c>, as <c>[Remote]</c> names methods (the default).</summary>
    CamelCase,

    /// <summary><c>MaxScore</c> travels as <c>max_score</c>: what Python peers write.</summary>
    SnakeCaseLower,

    /// <summary>The C# name as declared.</summary>
    AsDeclared,
}

/// <summary>
/// Marks a class or struct as a typed value: it travels as a plain jelly dict with text keys (Twisted peers send and
/// receive ordinary dicts), one key per public property. Records are typed values without the attribute; so is any
/// class or struct a <c>[Remote]</c> parameter, an answer (<c>CallRemoteAsync&lt;T&gt;</c>) or a state member asks
/// for, when reading. On an assembly, it sets the defaults of every typed value declared there.
/// </summary>
/// <remarks>
/// <para>Reading binds the constructor with the most parameters that all name members (a record's primary
/// constructor), then sets the other properties that have a <c>set</c> or <c>init</c> accessor. A constructor
/// parameter without a default value, or a <c>required</c> property, must be present; a member whose type is not
/// nullable (nullable annotations are honoured) cannot be None. Errors name the member.</para>
/// <para><see cref="PbNameAttribute"/> on a property sets its key, whatever the policy.</para>
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Assembly, AllowMultiple = false, Inherited = false)]
public sealed class PbRecordAttribute : Attribute
{
    /// <summary>How member names become keys. Default <see cref="PbNamingPolicy.CamelCase"/>.</summary>
    public PbNamingPolicy Naming { get; set; } = PbNamingPolicy.CamelCase;

    /// <summary>
    /// Whether a dict with a key that names no member is refused (a TypeError naming the key). Default false: unknown
    /// keys are ignored, so a peer may send more than this side knows.
    /// </summary>
    public bool RefuseUnknownKeys { get; set; }
}
