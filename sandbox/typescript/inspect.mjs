// Registration-time inspection of a TypeScript tool (never runs the tool): reads the source on stdin and
// prints {"diagnostics": [{line, column, message}], "functions": [{name, exported, description, params}]}
// where each param is {name, optional, type: <JSON schema or null>, typeText}. A type maps to a JSON
// schema only where the mapping is sound (primitives, arrays of them, string/number literal unions).
import fs from "node:fs";
import ts from "typescript";

const source = fs.readFileSync(0, "utf8");
const file = ts.createSourceFile("tool.ts", source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);

const diagnostics = (file.parseDiagnostics ?? []).map((d) => {
  const { line, character } = file.getLineAndCharacterOfPosition(d.start ?? 0);
  return { line: line + 1, column: character + 1, message: ts.flattenDiagnosticMessageText(d.messageText, "\n") };
});

function schemaOf(node) {
  if (!node) return null;
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword: return { type: "string" };
    case ts.SyntaxKind.NumberKeyword: return { type: "number" };
    case ts.SyntaxKind.BooleanKeyword: return { type: "boolean" };
    case ts.SyntaxKind.ArrayType: {
      const items = schemaOf(node.elementType);
      return items ? { type: "array", items } : null;
    }
    case ts.SyntaxKind.TypeReference: {
      const name = node.typeName.getText(file);
      if (name === "Array" && node.typeArguments?.length === 1) {
        const items = schemaOf(node.typeArguments[0]);
        return items ? { type: "array", items } : null;
      }
      return null;
    }
    case ts.SyntaxKind.ParenthesizedType: return schemaOf(node.type);
    case ts.SyntaxKind.LiteralType: {
      const lit = node.literal;
      if (ts.isStringLiteral(lit)) return { type: "string", enum: [lit.text] };
      if (ts.isNumericLiteral(lit)) return { type: "number", enum: [Number(lit.text)] };
      return null;
    }
    case ts.SyntaxKind.UnionType: {
      const parts = node.types.map(schemaOf);
      if (parts.some((p) => !p || !p.enum)) return null;
      const types = new Set(parts.map((p) => p.type));
      if (types.size !== 1) return null;
      return { type: parts[0].type, enum: parts.flatMap((p) => p.enum) };
    }
    default: return null;
  }
}

function jsdocOf(node) {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  const description = docs.map((d) => (typeof d.comment === "string" ? d.comment : "")).join("\n").trim();
  const params = {};
  for (const tag of ts.getJSDocTags(node)) {
    if (ts.isJSDocParameterTag(tag)) {
      const text = typeof tag.comment === "string" ? tag.comment : "";
      params[tag.name.getText(file)] = text.replace(/^-\s*/, "").trim();
    }
  }
  return { description, params };
}

const functions = [];
function addFunction(name, fnNode, exported, docNode) {
  const doc = jsdocOf(docNode);
  const params = fnNode.parameters.map((p) => ({
    name: ts.isIdentifier(p.name) ? p.name.text : p.name.getText(file),
    destructured: !ts.isIdentifier(p.name),
    rest: Boolean(p.dotDotDotToken),
    optional: Boolean(p.questionToken || p.initializer),
    type: schemaOf(p.type),
    typeText: p.type ? p.type.getText(file) : null,
    description: doc.params[ts.isIdentifier(p.name) ? p.name.text : ""] ?? "",
  }));
  functions.push({ name, exported, description: doc.description, params });
}

for (const stmt of file.statements) {
  const exported = (ts.getCombinedModifierFlags(stmt) & ts.ModifierFlags.Export) !== 0;
  if (ts.isFunctionDeclaration(stmt) && stmt.name) {
    addFunction(stmt.name.text, stmt, exported, stmt);
  } else if (ts.isVariableStatement(stmt)) {
    for (const decl of stmt.declarationList.declarations) {
      const init = decl.initializer;
      if (ts.isIdentifier(decl.name) && init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) {
        addFunction(decl.name.text, init, exported, stmt);
      }
    }
  }
}

process.stdout.write(JSON.stringify({ diagnostics, functions }));
