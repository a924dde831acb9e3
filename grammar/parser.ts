// The `.cnn` grammar as a chevrotain CST parser. No semantic actions here: the parser only
// recognises structure; build-ast.ts turns the CST into the AST. Recovery is on, so one run
// reports every syntax error of a file (chevrotain re-syncs at the follow set of the rule).
//
//   file       := (use | block | network) *
//   use        := 'use' STRING
//   block      := 'block' NAME ('(' params? ')')? body
//   network    := 'network' NAME body
//   body       := '{' (statement (SEP statement)*)? '}'
//   statement  := input | output | let | chain
//   input      := 'input' NAME ':' expr
//   output     := 'output' NAME (',' NAME)*
//   let        := 'let' NAME '=' chain
//   chain      := step ('->' step)*
//   step       := (NAME ':')? (call | combine | repeat | 'identity')
//   call       := NAME ('(' args? ')')? ('{' branch* '}')?
//   combine    := ('concat' | 'add' | 'mul') ('(' args? ')' | '{' branch* '}')
//   branch     := 'branch' body SEP?
//   repeat     := 'repeat' expr body
//   args       := arg (',' arg)*        arg := (NAME '=')? expr
//   expr       := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '%') unary)*
//   unary      := '-' unary | primary
//   primary    := NUMBER | STRING | NAME ('(' args? ')')? | '(' expr ')' | '[' (expr (',' expr)*)? ']'
import { CstParser, type IParserErrorMessageProvider } from "chevrotain";
import * as T from "./tokens.js";
import { parserMessages } from "./messages.js";

export class CnnParser extends CstParser {
  constructor(messages: IParserErrorMessageProvider = parserMessages) {
    super([...T.allTokens], {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "full",
      errorMessageProvider: messages,
    });
    this.performSelfAnalysis();
  }

  file = this.RULE("file", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.useDecl) },
        { ALT: () => this.SUBRULE(this.blockDecl) },
        { ALT: () => this.SUBRULE(this.networkDecl) },
      ]);
      this.OPTION(() => this.CONSUME(T.Separator));
    });
  });

  useDecl = this.RULE("useDecl", () => {
    this.CONSUME(T.Use);
    this.CONSUME(T.StringLiteral);
  });

  blockDecl = this.RULE("blockDecl", () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => {
        this.SUBRULE(this.param);
        this.MANY(() => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.param);
        });
      });
      this.CONSUME(T.RParen);
    });
    this.SUBRULE(this.body);
  });

  param = this.RULE("param", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expr);
    });
  });

  networkDecl = this.RULE("networkDecl", () => {
    this.CONSUME(T.Network);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.body);
  });

  body = this.RULE("body", () => {
    this.CONSUME(T.LBrace);
    this.OPTION(() => {
      this.SUBRULE(this.statement);
      this.MANY(() => {
        this.CONSUME(T.Separator);
        this.SUBRULE2(this.statement);
      });
    });
    this.CONSUME(T.RBrace);
  });

  statement = this.RULE("statement", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.inputDecl) },
      { ALT: () => this.SUBRULE(this.outputDecl) },
      { ALT: () => this.SUBRULE(this.letDecl) },
      { ALT: () => this.SUBRULE(this.chain) },
    ]);
  });

  inputDecl = this.RULE("inputDecl", () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expr);
  });

  outputDecl = this.RULE("outputDecl", () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.CONSUME2(T.Identifier);
    });
  });

  letDecl = this.RULE("letDecl", () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.chain);
  });

  chain = this.RULE("chain", () => {
    this.SUBRULE(this.step);
    this.MANY(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE2(this.step);
    });
  });

  step = this.RULE("step", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier);
      this.CONSUME(T.Colon);
    });
    this.OR([
      { ALT: () => this.SUBRULE(this.call) },
      { ALT: () => this.SUBRULE(this.combine) },
      { ALT: () => this.SUBRULE(this.repeat) },
      { ALT: () => this.CONSUME(T.Identity) },
    ]);
  });

  call = this.RULE("call", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.args));
      this.CONSUME(T.RParen);
    });
    // branches: `maximum { branch {...} ... }` (lowering accepts them for merges only)
    this.OPTION3(() => {
      this.CONSUME(T.LBrace);
      this.MANY(() => this.SUBRULE(this.branch));
      this.CONSUME(T.RBrace);
    });
  });

  combine = this.RULE("combine", () => {
    this.CONSUME(T.Combinator);
    this.OR2([
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.OPTION(() => this.SUBRULE(this.args));
          this.CONSUME(T.RParen);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBrace);
          this.MANY(() => this.SUBRULE(this.branch));
          this.CONSUME(T.RBrace);
        },
      },
    ]);
  });

  branch = this.RULE("branch", () => {
    this.CONSUME(T.Branch);
    this.SUBRULE(this.body);
    this.OPTION(() => this.CONSUME(T.Separator));
  });

  repeat = this.RULE("repeat", () => {
    this.CONSUME(T.Repeat);
    this.SUBRULE(this.expr);
    this.SUBRULE(this.body);
  });

  args = this.RULE("args", () => {
    this.SUBRULE(this.arg);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.arg);
    });
  });

  arg = this.RULE("arg", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier);
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.expr);
  });

  expr = this.RULE("expr", () => {
    this.SUBRULE(this.term);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      this.SUBRULE2(this.term);
    });
  });

  term = this.RULE("term", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star) },
        { ALT: () => this.CONSUME(T.Slash) },
        { ALT: () => this.CONSUME(T.Percent) },
      ]);
      this.SUBRULE2(this.unary);
    });
  });

  unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Integer) },
      { ALT: () => this.CONSUME(T.Float) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => {
            this.CONSUME(T.LParen);
            this.OPTION2(() => this.SUBRULE(this.args));
            this.CONSUME(T.RParen);
          });
        },
      },
      {
        ALT: () => {
          this.CONSUME2(T.LParen);
          this.SUBRULE(this.expr);
          this.CONSUME2(T.RParen);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          this.OPTION3(() => {
            this.SUBRULE2(this.expr);
            this.MANY(() => {
              this.CONSUME(T.Comma);
              this.SUBRULE3(this.expr);
            });
          });
          this.CONSUME(T.RBracket);
        },
      },
    ]);
  });
}
