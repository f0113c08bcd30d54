// The reviewer page's Mustache templates and style sheet, as Swift string literals so the
// binary carries them (no resource bundle to locate at run time, no build step).
// `{{x}}` is HTML-escaped by Mustache; nothing here uses the unescaped `{{{x}}}` form.

/// The templates by name; `head` and `foot` are partials every page includes.
enum PageTemplates {
    static let all: [String: String] = [
        "head": head, "foot": foot, "sign-in": signIn, "queue": queue, "task": task, "audit": audit, "problem": problem, "migrations": migrations, "evals": evals,
    ].merging(console) { reviewer, _ in reviewer }

    static let head = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Steward review</title>
        <link rel="stylesheet" href="/review/assets/style.css">
        </head>
        <body>
        <a class="skip" href="#main">Skip to the main content</a>
        <header class="bar">
          <p class="brand"><a href="/review">Steward review</a>{{#signedIn}} · <a href="/review/migrations">Migrations</a> · <a href="/review/evals">Evals</a>{{/signedIn}}{{#isOperator}} · <a href="/console/instances">Operator console</a>{{/isOperator}}</p>
          {{#signedIn}}
          <form method="post" action="/review/sign-out" class="signout">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <span>Signed in as <strong>{{reviewerName}}</strong> ({{reviewerCredentials}})</span>
            <button type="submit" class="secondary">Sign out</button>
          </form>
          {{/signedIn}}
        </header>
        <main id="main">

        """

    static let foot = """

        </main>
        </body>
        </html>

        """

    static let signIn = """
        {{> head}}
        <h1>Sign in to review</h1>
        {{#error}}<p class="error" role="alert" id="token-error">{{error}}</p>{{/error}}
        <form method="post" action="/review/sign-in" class="card narrow">
          <label for="token">Reviewer token</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required{{#error}} aria-invalid="true" aria-describedby="token-error"{{/error}}>
          <p class="hint" id="token-hint">The token that <code>steward reviewers add</code> printed for you. It is kept on the server, never in your browser.</p>
          <button type="submit" id="sign-in">Sign in</button>
        </form>
        {{> foot}}
        """

    static let queue = """
        {{> head}}
        <h1>Review queue</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        <p>{{count}} open {{taskWord}} for your credentials, soonest deadline first.</p>
        {{#hasTasks}}
        <table class="queue">
          <caption class="visually-hidden">Open review tasks, soonest deadline first</caption>
          <thead>
            <tr><th scope="col">Task</th><th scope="col">Time left</th><th scope="col">Template</th><th scope="col">Customer</th><th scope="col">Checkpoint</th><th scope="col">Credential</th><th scope="col">Opened</th></tr>
          </thead>
          <tbody>
          {{#tasks}}
            <tr{{#overdue}} class="overdue"{{/overdue}}>
              <td><a href="/review/tasks/{{id}}">Task {{id}}</a></td>
              <td>{{#dueAt}}<time datetime="{{dueAt}}">{{timeLeft}}</time>{{/dueAt}}{{^dueAt}}{{timeLeft}}{{/dueAt}}</td>
              <td>{{template}}</td>
              <td>{{customer}}</td>
              <td>{{state}}</td>
              <td>{{credential}}</td>
              <td><time datetime="{{openedAt}}">{{openedAt}}</time></td>
            </tr>
          {{/tasks}}
          {{#audits}}
            <tr class="audit">
              <td><a href="/review/audits/{{id}}">Audit {{id}}</a> <span class="badge">{{kind}}</span></td>
              <td>not timed</td>
              <td>{{template}}</td>
              <td>{{customer}}</td>
              <td>{{state}}</td>
              <td>{{credential}}</td>
              <td><time datetime="{{createdAt}}">{{createdAt}}</time></td>
            </tr>
          {{/audits}}
          </tbody>
        </table>
        {{/hasTasks}}
        {{^hasTasks}}<p class="card">Nothing is waiting for you.</p>{{/hasTasks}}
        {{> foot}}
        """

    static let task = """
        {{> head}}
        <p><a href="/review">Back to the queue</a></p>
        <h1>Task {{taskID}}: {{state}} <span class="muted">({{template}})</span></h1>
        <dl class="facts">
          <div><dt>Instance</dt><dd><code>{{instanceID}}</code></dd></div>
          <div><dt>Customer</dt><dd>{{customer}}</dd></div>
          <div><dt>Credential</dt><dd>{{credential}}</dd></div>
          <div><dt>Opened</dt><dd><time datetime="{{openedAt}}">{{openedAt}}</time></dd></div>
          <div><dt>Time left</dt><dd{{#overdue}} class="overdue"{{/overdue}}>{{timeLeft}}</dd></div>
          <div><dt>Status</dt><dd>{{status}}</dd></div>
        </dl>
        {{#openedBecause}}<p class="notice" role="note"><strong>Why this review:</strong> {{openedBecause}}</p>{{/openedBecause}}
        {{#decidedText}}<p class="notice" role="status">{{decidedText}}</p>{{/decidedText}}
        <div class="columns">
          <section class="context card" aria-labelledby="context-heading">
            <h2 id="context-heading">Context</h2>
            <h3>Input</h3>
            <pre tabindex="0" aria-label="Instance input">{{input}}</pre>
            <h3>Model output</h3>
            {{#outputs}}
            <h4>{{name}}{{#confidence}} <span class="badge">confidence {{confidence}}</span>{{/confidence}}</h4>
            <pre tabindex="0" aria-label="Output {{name}}">{{json}}</pre>
            {{/outputs}}
            {{#hasArticles}}
            <h3>Suggested articles</h3>
            <ol class="articles">
              {{#articles}}<li>{{#url}}<a href="{{url}}">{{title}}</a>{{/url}}{{^url}}{{title}}{{/url}}{{#score}} <span class="muted">(score {{score}})</span>{{/score}}</li>{{/articles}}
            </ol>
            {{/hasArticles}}
            {{#aop}}
            <h3>Operating procedure</h3>
            <p>{{domain}}</p>
            <h4>The agent may</h4>
            <ul>{{#may}}<li>{{.}}</li>{{/may}}</ul>
            <h4>The agent may not</h4>
            <ul>{{#mayNot}}<li>{{.}}</li>{{/mayNot}}</ul>
            <p>Escalate to <strong>{{escalationTarget}}</strong>.</p>
            {{/aop}}
            <h3>History</h3>
            <ol class="history">
              {{#history}}<li><time datetime="{{at}}">{{at}}</time> <strong>{{kind}}</strong> by {{actor}}{{#detail}}: {{detail}}{{/detail}}</li>{{/history}}
            </ol>
          </section>
          <section class="decide card" aria-labelledby="decide-heading">
            <h2 id="decide-heading">Decide</h2>
            {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
            {{#open}}
            {{#canApprove}}
            <form method="post" action="/review/tasks/{{taskID}}/decision" aria-labelledby="approve-heading">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <input type="hidden" name="decision" value="approve">
              <h3 id="approve-heading">Approve</h3>
              <p>Let the output under review go on as it is.</p>
              <button type="submit" id="approve">Approve</button>
            </form>
            {{/canApprove}}
            {{#canEdit}}
            <form method="post" action="/review/tasks/{{taskID}}/decision" aria-labelledby="edit-heading">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <input type="hidden" name="decision" value="edit">
              <h3 id="edit-heading">Edit, then approve</h3>
              <label for="output">Edited output (JSON, same fields as the original)</label>
              <textarea id="output" name="output" rows="14" spellcheck="false"{{#editError}} aria-invalid="true" aria-describedby="output-error"{{/editError}}>{{editText}}</textarea>
              {{#editError}}<p class="error" id="output-error" role="alert">{{editError}}</p>{{/editError}}
              <button type="submit" id="save-edit">Save the edit and approve</button>
            </form>
            {{/canEdit}}
            {{#canReject}}
            <form method="post" action="/review/tasks/{{taskID}}/decision" aria-labelledby="reject-heading">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <input type="hidden" name="decision" value="reject">
              <h3 id="reject-heading">Reject</h3>
              <label for="reason">Reason for rejecting</label>
              <textarea id="reason" name="reason" rows="3"{{#rejectError}} aria-invalid="true" aria-describedby="reason-error"{{/rejectError}}>{{reasonText}}</textarea>
              {{#rejectError}}<p class="error" id="reason-error" role="alert">{{rejectError}}</p>{{/rejectError}}
              <button type="submit" id="reject" class="danger">Reject</button>
            </form>
            {{/canReject}}
            {{/open}}
          </section>
        </div>
        {{> foot}}
        """

    static let audit = """
        {{> head}}
        <p><a href="/review">Back to the queue</a></p>
        <h1>Audit {{auditID}}: {{state}} <span class="muted">({{template}})</span> <span class="badge">{{kind}}</span></h1>
        <p>This instance passed <strong>{{state}}</strong> without a review and was sampled for an audit. It has already gone on; your verdict measures how often such work is right and becomes labelled data.</p>
        <dl class="facts">
          <div><dt>Instance</dt><dd><code>{{instanceID}}</code></dd></div>
          <div><dt>Customer</dt><dd>{{customer}}</dd></div>
          <div><dt>Template version</dt><dd>{{version}}</dd></div>
          <div><dt>Credential</dt><dd>{{credential}}</dd></div>
          <div><dt>Sampled</dt><dd><time datetime="{{createdAt}}">{{createdAt}}</time></dd></div>
          <div><dt>Reviews</dt><dd>{{reviews}}</dd></div>
          {{#bindings}}<div><dt>Model {{role}}</dt><dd>{{adapter}}</dd></div>{{/bindings}}
        </dl>
        <div class="columns">
          <section class="context card" aria-labelledby="input-heading">
            <h2 id="input-heading">Input</h2>
            <pre tabindex="0" aria-label="Instance input">{{input}}</pre>
            {{#hasVerdicts}}
            <h3>Verdicts</h3>
            <ul class="verdicts">
              {{#verdicts}}<li>{{reviewer}} at <time datetime="{{at}}">{{at}}</time>: {{#judgements}}<code>{{path}}</code> {{text}}; {{/judgements}}</li>{{/verdicts}}
            </ul>
            {{/hasVerdicts}}
            {{#blind}}<p class="hint">Another reviewer's verdict is hidden until the item has all its reviews.</p>{{/blind}}
          </section>
          <section class="decide card" aria-labelledby="verdict-heading">
            <h2 id="verdict-heading">Your verdict</h2>
            {{#error}}<p class="error" role="alert" id="verdict-error">{{error}}</p>{{/error}}
            {{#canReview}}
            <form method="post" action="/review/audits/{{auditID}}/verdict" aria-labelledby="verdict-heading">
              <input type="hidden" name="csrf" value="{{csrf}}">
              {{#items}}
              <fieldset class="judged">
                <legend><code>{{path}}</code> was <code>{{valueText}}</code></legend>
                <input type="hidden" name="path-{{index}}" value="{{path}}">
                <input type="radio" id="verdict-{{index}}-correct" name="verdict-{{index}}" value="correct" required{{#isCorrect}} checked{{/isCorrect}}>
                <label for="verdict-{{index}}-correct" class="inline">Correct</label>
                <input type="radio" id="verdict-{{index}}-wrong" name="verdict-{{index}}" value="wrong"{{#isWrong}} checked{{/isWrong}}>
                <label for="verdict-{{index}}-wrong" class="inline">Wrong</label>
                <label for="value-{{index}}">If wrong, the correct value (JSON, or plain text)</label>
                <input type="text" id="value-{{index}}" name="value-{{index}}" value="{{entered}}" spellcheck="false">
              </fieldset>
              {{/items}}
              <button type="submit" id="give-verdict">Record my verdict</button>
            </form>
            {{/canReview}}
            {{^canReview}}<p class="notice" role="status">You have no verdict to give on this item.</p>{{/canReview}}
          </section>
        </div>
        {{> foot}}
        """

    static let problem = """
        {{> head}}
        <h1>{{heading}}</h1>
        <p class="error" role="alert">{{message}}</p>
        <p><a href="/review">Back to the queue</a></p>
        {{> foot}}
        """

    /// Dark text on white, a blue with 7:1 contrast for links and buttons, visible focus rings.
    static let evals = """
        {{> head}}
        <h1>Evals</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        {{#hasBlocks}}
        <h2>Release blocks</h2>
        <ul>{{#blocks}}<li class="error">{{template}}@{{version}} for {{customer}}: blocked by run <a href="/review/evals/{{run}}">{{run}}</a>: {{reason}}</li>{{/blocks}}</ul>
        {{/hasBlocks}}
        <form method="post" action="/review/evals/run" class="card narrow">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label for="template">Template</label>
          <select id="template" name="template">{{#templates}}<option>{{.}}</option>{{/templates}}</select>
          <label for="dataset">Dataset (a path in the workspace; empty: the rubric's)</label>
          <input type="text" id="dataset" name="dataset">
          <button type="submit" id="run-eval">Run the eval now</button>
        </form>
        <h2>Runs</h2>
        {{^hasRuns}}<p class="card">No eval has run yet.</p>{{/hasRuns}}
        {{#hasRuns}}
        <table class="queue">
          <caption class="visually-hidden">Stored eval runs, newest first</caption>
          <thead><tr><th scope="col">Run</th><th scope="col">Verdict</th><th scope="col">Template</th><th scope="col">Customer</th><th scope="col">Dataset</th><th scope="col">Trigger</th><th scope="col">Metrics</th><th scope="col">Finished</th></tr></thead>
          <tbody>
          {{#runs}}
            <tr{{^passed}} class="overdue"{{/passed}}>
              <td><a href="/review/evals/{{id}}">Run {{id}}</a></td>
              <td>{{#passed}}passed{{/passed}}{{^passed}}FAILED{{/passed}}</td>
              <td>{{template}}@{{version}}</td><td>{{customer}}</td><td>{{dataset}}</td><td>{{trigger}}</td>
              <td>{{#metrics}}<span{{#failed}} class="error"{{/failed}}>{{name}} {{value}}</span> {{/metrics}}</td>
              <td><time datetime="{{at}}">{{at}}</time></td>
            </tr>
          {{/runs}}
          </tbody>
        </table>
        {{/hasRuns}}
        {{> foot}}
        """

    static let migrations = """
        {{> head}}
        <h1>Migrations</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        {{^hasMigrations}}<p class="card">No migration has been started.</p>{{/hasMigrations}}
        {{#migrations}}
        <section class="card migration" aria-labelledby="m-{{name}}">
          <h2 id="m-{{name}}">{{name}} <span class="muted">{{template}} · {{role}}: {{from}} → {{to}} · {{status}}</span></h2>
          {{#hasWarning}}<p class="error">{{warning}}</p>{{/hasWarning}}
          {{#customers}}
          <div class="customer">
            <h3>{{customer}} <span class="muted">stage {{stage}}, {{state}}, {{sharePercent}}% of new work on {{to}}</span></h3>
            <svg class="ladder" width="{{ladderWidth}}" height="44" viewBox="0 0 {{ladderWidth}} 44" role="img" aria-label="Stages of {{customer}}: now {{stage}} ({{state}})">
              {{#ladder}}{{#hasLine}}<line x1="{{lineFrom}}" y1="14" x2="{{lineTo}}" y2="14" class="rung"></line>{{/hasLine}}<circle cx="{{x}}" cy="14" r="9" class="{{cls}}"></circle><text x="{{x}}" y="40" text-anchor="middle">{{name}}</text>{{/ladder}}
            </svg>
            <svg class="share" width="210" height="18" viewBox="0 0 210 18" role="img" aria-label="{{sharePercent}}% on the candidate">
              <rect x="0" y="2" width="200" height="14" class="track"></rect><rect x="0" y="2" width="{{shareWidth}}" height="14" class="fill"></rect>
            </svg>
            {{#hasMetrics}}
            <h4>Regression gate: candidate (dark) against the current binding (light)</h4>
            <svg class="metrics" width="420" height="{{metricsHeight}}" viewBox="0 0 420 {{metricsHeight}}" role="img" aria-label="Regression metrics of {{customer}}">
              {{#metrics}}<text x="0" y="{{y}}" dy="12">{{name}}</text><rect x="150" y="{{y}}" width="{{candidateWidth}}" height="12" class="candidate{{^passed}} failed{{/passed}}"></rect><rect x="150" y="{{y}}" width="{{currentWidth}}" height="4" class="current" transform="translate(0 14)"></rect><text x="320" y="{{y}}" dy="12">{{candidate}} vs {{current}}</text>{{/metrics}}
            </svg>
            {{/hasMetrics}}
            {{#canary}}
            <h4>Canary: {{finished}} finished on the candidate, {{failed}} failed ({{currentFinished}} on the current binding)</h4>
            <svg class="share" width="210" height="18" viewBox="0 0 210 18" role="img" aria-label="{{failed}} of {{finished}} failed">
              <rect x="0" y="2" width="200" height="14" class="track"></rect><rect x="0" y="2" width="{{failedWidth}}" height="14" class="bad"></rect>
            </svg>
            {{/canary}}
            {{#audited}}
            <h4>Audited production accuracy: candidate {{candidate.accuracy}} of {{candidate.audited}} audited, current {{current.accuracy}} of {{current.audited}}</h4>
            <svg class="share" width="210" height="36" viewBox="0 0 210 36" role="img" aria-label="Audited accuracy: candidate {{candidate.accuracy}}, current {{current.accuracy}}">
              <rect x="0" y="2" width="200" height="14" class="track"></rect><rect x="0" y="2" width="{{candidate.width}}" height="14" class="candidate"></rect>
              <rect x="0" y="20" width="200" height="14" class="track"></rect><rect x="0" y="20" width="{{current.width}}" height="14" class="current"></rect>
            </svg>
            {{/audited}}
            {{#replay}}
            <h4>Replay of recent production inputs: the sides agree on {{agreed}} of {{cases}} ({{percent}}%)</h4>
            <svg class="share" width="210" height="18" viewBox="0 0 210 18" role="img" aria-label="{{percent}}% agreement on replayed inputs">
              <rect x="0" y="2" width="200" height="14" class="track"></rect><rect x="0" y="2" width="{{width}}" height="14" class="fill"></rect>
            </svg>
            {{/replay}}
            {{#note}}<p class="hint">{{note}}</p>{{/note}}
            {{#gate}}<p class="hint">Its review task (instance {{gate}}) is in the queue of everyone holding the {{approver}} credential.</p>{{/gate}}
            {{#canApprove}}
            <form method="post" action="/review/migrations/{{name}}/approve">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <input type="hidden" name="customer" value="{{customer}}">
              <button type="submit">Approve {{customer}} to go on</button>
            </form>
            {{/canApprove}}
            {{#awaiting}}{{^canApprove}}<p class="hint">Waiting for a person with the {{approver}} credential.</p>{{/canApprove}}{{/awaiting}}
          </div>
          {{/customers}}
        </section>
        {{/migrations}}
        {{> foot}}
        """

    static let styleSheet = """
        :root { color-scheme: light; --ink: #1a1a1a; --muted: #4a4a4a; --link: #0b4f9c; --line: #c8c8c8; --bad: #a4000f; --ok: #0d5c2e; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
        a { color: var(--link); }
        a:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible, pre:focus-visible { outline: 3px solid #ffb000; outline-offset: 2px; }
        .skip { position: absolute; left: -9999px; }
        .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 1; }
        .bar { display: flex; justify-content: space-between; align-items: center; padding: .5rem 1.5rem; border-bottom: 1px solid var(--line); background: #f4f6f8; }
        .brand { margin: 0; font-weight: 700; }
        .brand a { text-decoration: none; color: var(--ink); }
        .signout { display: flex; gap: .75rem; align-items: center; }
        main { padding: 1rem 1.5rem 3rem; max-width: 90rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.25rem; margin-top: 0; }
        h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
        h4 { font-size: .95rem; margin: .8rem 0 .3rem; }
        .muted { color: var(--muted); font-weight: 400; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.25rem; background: #fff; }
        .narrow { max-width: 28rem; }
        label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
        fieldset.judged { border: 1px solid var(--line); border-radius: 4px; margin: 0 0 .75rem; padding: .5rem .75rem; }
        label.inline { display: inline; font-weight: 400; margin-right: 1rem; }
        input[type=password], input[type=text], textarea { width: 100%; font: 14px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; padding: .5rem; border: 1px solid #767676; border-radius: 4px; color: var(--ink); }
        textarea[aria-invalid=true], input[aria-invalid=true] { border: 2px solid var(--bad); }
        button { font: inherit; font-weight: 600; padding: .45rem 1rem; margin-top: .6rem; border: 0; border-radius: 4px; background: var(--link); color: #fff; cursor: pointer; }
        button.secondary { background: #fff; color: var(--link); border: 1px solid var(--link); margin-top: 0; }
        button.danger { background: var(--bad); }
        .hint { color: var(--muted); font-size: .9rem; }
        .error { color: var(--bad); font-weight: 600; }
        .notice { color: var(--ok); font-weight: 600; }
        .overdue { color: var(--bad); font-weight: 600; }
        table.queue { border-collapse: collapse; width: 100%; }
        table.queue th, table.queue td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); }
        table.queue thead th { background: #f4f6f8; }
        .facts { display: flex; flex-wrap: wrap; gap: .5rem 2rem; margin: 0 0 1rem; }
        .facts dt { font-size: .85rem; color: var(--muted); }
        .facts dd { margin: 0; }
        .columns { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.25rem; align-items: start; }
        @media (max-width: 60rem) { .columns { grid-template-columns: 1fr; } }
        pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: .6rem; overflow-x: auto; font-size: 13px; white-space: pre-wrap; word-break: break-word; }
        .decide form { border-top: 1px solid var(--line); padding-top: .5rem; margin-top: .75rem; }
        .decide form:first-of-type { border-top: 0; margin-top: 0; }
        .badge { font-size: .8rem; font-weight: 600; background: #e8eef7; color: #0b3d78; border-radius: 3px; padding: .05rem .4rem; }
        .history { padding-left: 1.25rem; font-size: .92rem; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

        .migration { margin-bottom: 1.25rem; }
        .customer { border-top: 1px solid var(--line); padding-top: .5rem; margin-top: .5rem; }
        svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
        svg .rung { stroke: var(--line); stroke-width: 3; }
        svg circle.done { fill: var(--ok); }
        svg circle.later { fill: #fff; stroke: var(--line); stroke-width: 2; }
        svg circle.now { fill: var(--link); }
        svg circle.now.failed, svg circle.now.rolled_back { fill: var(--bad); }
        svg circle.now.awaiting_approval { fill: #ffb000; }
        svg .track { fill: #e6e9ed; }
        svg .fill, svg .candidate { fill: var(--link); }
        svg .candidate.failed, svg .bad { fill: var(--bad); }
        svg .current { fill: #9bb7d9; }
        \(consoleStyleSheet)
        """
}
