/**
 * `npx tsx scripts/unused-exports.ts`: lists the exports of src/ and scripts/
 * that no other file imports (tests count as importers). An export only its
 * own file uses should not be exported; one nothing uses should not exist.
 * Exits 1 when it finds any.
 */
import path from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../src/shared/config';

const config = ts.readConfigFile(path.join(PROJECT_ROOT, 'tsconfig.json'), ts.sys.readFile);
const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, PROJECT_ROOT);
const program = ts.createProgram(parsed.fileNames, parsed.options);
const own = (file: ts.SourceFile) => !file.isDeclarationFile && file.fileName.startsWith(PROJECT_ROOT) && !file.fileName.includes('node_modules');
const files = program.getSourceFiles().filter(own);

/** file -> names other files import from it ('*' = all of them). */
const imported = new Map<string, Set<string>>();
const use = (from: ts.SourceFile, specifier: string, name: string) => {
  const resolved = ts.resolveModuleName(specifier, from.fileName, parsed.options, ts.sys).resolvedModule?.resolvedFileName;
  if (!resolved || resolved === from.fileName) return;
  if (!imported.has(resolved)) imported.set(resolved, new Set());
  imported.get(resolved)!.add(name);
};

for (const file of files) {
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
      if (ts.isImportDeclaration(node) && node.importClause?.name) use(file, spec, 'default');
      if (!bindings || ts.isNamespaceImport(bindings) || ts.isNamespaceExport(bindings)) use(file, spec, '*');
      else for (const el of bindings.elements) use(file, spec, (el.propertyName ?? el.name).text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      use(file, node.arguments[0].text, '*');
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

/** src/cli.ts loads each command module by file name and reads its `command`. */
const LOADED_BY_NAME = (rel: string, name: string) => rel.startsWith('src/commands/') && name === 'command';

const checker = program.getTypeChecker();
const unused: string[] = [];
for (const file of files) {
  const rel = path.relative(PROJECT_ROOT, file.fileName);
  if (!/^(src|scripts)\//.test(rel)) continue;
  const symbol = checker.getSymbolAtLocation(file);
  if (!symbol) continue;
  const used = imported.get(file.fileName) ?? new Set<string>();
  if (used.has('*')) continue;
  for (const exp of checker.getExportsOfModule(symbol)) {
    if (!used.has(exp.name) && !LOADED_BY_NAME(rel, exp.name)) unused.push(`${rel}: ${exp.name}`);
  }
}
process.stdout.write(unused.length === 0 ? 'no unused exports\n' : `${unused.join('\n')}\n${unused.length} exports no other file imports\n`);
process.exitCode = unused.length === 0 ? 0 : 1;
