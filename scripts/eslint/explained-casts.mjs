// A local ESLint rule: a type assertion (`x as T`, `<T>x`) in src must carry a
// comment saying why the compiler cannot know what the author knows. `as const`
// is not an assertion about a value's type, so it is exempt.

/** Lines that hold (part of) a comment. */
function commentLines(sourceCode) {
  const lines = new Set();
  for (const c of sourceCode.getAllComments()) {
    for (let l = c.loc.start.line; l <= c.loc.end.line; l++) lines.add(l);
  }
  return lines;
}

/** The statement or class member that contains `node`. */
function enclosingStatement(node) {
  let n = node;
  while (n.parent && !/Statement$|Declaration$|PropertyDefinition$/.test(n.type)) n = n.parent;
  return n;
}

/** @type {import('eslint').Rule.RuleModule} */
export const explainedCasts = {
  meta: {
    type: 'suggestion',
    docs: { description: 'Require a comment explaining each type assertion' },
    schema: [],
    messages: {
      unexplained:
        'Type assertion without a comment: say why it is safe on this line or the line above, or narrow the type instead.',
    },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    let lines;
    const check = (node) => {
      const t = node.typeAnnotation;
      if (
        t.type === 'TSTypeReference' &&
        t.typeName.type === 'Identifier' &&
        t.typeName.name === 'const'
      )
        return;
      lines ??= commentLines(sourceCode);
      const start = node.loc.start.line;
      const stmt = enclosingStatement(node).loc.start.line;
      if (
        lines.has(start) ||
        lines.has(start - 1) ||
        lines.has(node.loc.end.line) ||
        lines.has(stmt - 1) ||
        lines.has(stmt)
      )
        return;
      context.report({ node, messageId: 'unexplained' });
    };
    return { TSAsExpression: check, TSTypeAssertion: check };
  },
};

export default { rules: { 'explained-casts': explainedCasts } };
