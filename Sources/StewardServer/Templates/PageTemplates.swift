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
        <form method="get" action="/review" class="filters card" aria-labelledby="filter-heading">
          <h2 id="filter-heading" class="visually-hidden">Filter the queue</h2>
          <div class="filter">
            <label for="filter-credential">Credential</label>
            <select id="filter-credential" name="credential"><option value="">any</option>{{#credentialOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/credentialOptions}}</select>
          </div>
          <div class="filter">
            <label for="filter-customer">Customer</label>
            <select id="filter-customer" name="customer"><option value="">any</option>{{#customerOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/customerOptions}}</select>
          </div>
          <div class="filter">
            <label for="filter-priority">Priority</label>
            <select id="filter-priority" name="priority"><option value="">any</option>{{#priorityOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/priorityOptions}}</select>
          </div>
          <div class="filter">
            <label for="filter-template">Template</label>
            <select id="filter-template" name="template"><option value="">any</option>{{#templateOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/templateOptions}}</select>
          </div>
          <div class="filter actions">
            <button type="submit" id="filter">Filter</button>
            {{#filtered}}<a href="/review" class="clear">Clear filters</a>{{/filtered}}
          </div>
        </form>
        <p>{{total}} open {{taskWord}}{{#filtered}} {{matchWord}} the filter{{/filtered}}, soonest deadline first.{{#nextTask}} <a href="{{nextTask}}" id="next-task">Open the next task</a>{{/nextTask}}</p>
        <p class="shortcuts hint">Keys: <kbd>n</kbd> next task · <kbd>/</kbd> filters</p>
        {{#hasTasks}}
        <table class="queue desk">
          <caption class="visually-hidden">Open review tasks, soonest deadline first</caption>
          <thead>
            <tr><th scope="col">Priority</th><th scope="col">Subject</th><th scope="col">Customer</th><th scope="col">Due</th><th scope="col">SLA</th><th scope="col">Claim</th></tr>
          </thead>
          <tbody>
          {{#tasks}}
            <tr class="sla-{{sla}}">
              <td data-label="Priority">{{#priority}}<span class="prio {{priorityClass}}">{{priority}}</span>{{/priority}}{{^priority}}<span class="muted">none</span>{{/priority}}</td>
              <td data-label="Subject"><a href="/review/tasks/{{id}}" class="task-link">{{summary}}</a><br><span class="muted small">Task {{id}} · {{template}} · {{state}} · {{credential}}</span></td>
              <td data-label="Customer">{{#customerName}}{{customerName}}<br>{{/customerName}}<span class="muted small">{{customer}}</span></td>
              <td data-label="Due">{{#dueAt}}<time datetime="{{dueAt}}">{{timeLeft}}</time><br><span class="small">due {{dueLocal}}</span>{{/dueAt}}{{^dueAt}}{{timeLeft}}{{/dueAt}}</td>
              <td data-label="SLA"><span class="sla {{sla}}">{{slaText}}</span></td>
              <td data-label="Claim">
                {{#claimed}}<span class="claim{{#claimedByMe}} mine{{/claimedByMe}}">{{claimText}}</span>{{/claimed}}
                {{#claimable}}<form method="post" action="/review/tasks/{{id}}/claim" class="inline-form"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="secondary" id="claim-{{id}}" aria-label="Claim task {{id}}">Claim</button></form>{{/claimable}}
              </td>
            </tr>
          {{/tasks}}
          </tbody>
        </table>
        {{#paged}}
        <nav class="pager" aria-label="Pages">
          {{#previousPage}}<a href="{{previousPage}}" rel="prev" id="previous-page">Previous page</a>{{/previousPage}}
          <span>Page {{page}} of {{pageCount}}</span>
          {{#nextPage}}<a href="{{nextPage}}" rel="next" id="next-page">Next page</a>{{/nextPage}}
        </nav>
        {{/paged}}
        {{/hasTasks}}
        {{#hasAudits}}
        <h2>Audits</h2>
        <p>{{auditCount}} audit {{auditWord}} for your credentials.</p>
        <table class="queue">
          <caption class="visually-hidden">Open audit items</caption>
          <thead>
            <tr><th scope="col">Audit</th><th scope="col">Template</th><th scope="col">Customer</th><th scope="col">Checkpoint</th><th scope="col">Credential</th><th scope="col">Sampled</th></tr>
          </thead>
          <tbody>
          {{#audits}}
            <tr class="audit">
              <td data-label="Audit"><a href="/review/audits/{{id}}">Audit {{id}}</a> <span class="badge">{{kind}}</span></td>
              <td data-label="Template">{{template}}</td>
              <td data-label="Customer">{{customer}}</td>
              <td data-label="Checkpoint">{{state}}</td>
              <td data-label="Credential">{{credential}}</td>
              <td data-label="Sampled"><time datetime="{{createdAt}}">{{createdAt}}</time></td>
            </tr>
          {{/audits}}
          </tbody>
        </table>
        {{/hasAudits}}
        {{#empty}}<p class="card">Nothing is waiting for you.</p>{{/empty}}
        <script src="/review/assets/desk.js" defer></script>
        {{> foot}}
        """

    static let task = """
        {{> head}}
        <p><a href="/review">Back to the queue</a>{{#nextTask}} · <a href="{{nextTask}}" id="next-task">Next task</a>{{/nextTask}}</p>
        <h1>{{summary}} <span class="muted">(task {{taskID}})</span></h1>
        <dl class="facts">
          <div><dt>Priority</dt><dd>{{#priority}}<span class="prio {{priorityClass}}">{{priority}}</span>{{/priority}}{{^priority}}none{{/priority}}</dd></div>
          <div><dt>Customer</dt><dd>{{#customerName}}{{customerName}}, {{/customerName}}{{customer}}</dd></div>
          <div><dt>Due</dt><dd>{{#dueAt}}<time datetime="{{dueAt}}">{{dueLocal}}</time> ({{timeLeft}}){{/dueAt}}{{^dueAt}}{{timeLeft}}{{/dueAt}}</dd></div>
          <div><dt>SLA</dt><dd><span class="sla {{sla}}">{{slaText}}</span></dd></div>
          <div><dt>Checkpoint</dt><dd>{{state}} <span class="muted">({{template}}, needs {{credential}})</span></dd></div>
          <div><dt>Opened</dt><dd><time datetime="{{openedAt}}">{{openedLocal}}</time></dd></div>
          <div><dt>Status</dt><dd>{{status}}</dd></div>
          <div><dt>Instance</dt><dd><code class="small">{{instanceID}}</code></dd></div>
        </dl>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#openedBecause}}<p class="notice" role="note"><strong>Why this review:</strong> {{openedBecause}}</p>{{/openedBecause}}
        {{#decidedText}}<p class="notice" role="status">{{decidedText}}</p>{{/decidedText}}
        {{#open}}
        <div class="claimbar card">
          {{#claimText}}<p class="claim" id="claim-status">{{claimText}}</p>{{/claimText}}
          {{#claimable}}
          <form method="post" action="/review/tasks/{{taskID}}/claim" class="inline-form">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" id="claim" class="secondary">Claim this task</button>
            <span class="hint">Reserves it to you for a while; others see it as claimed.</span>
          </form>
          {{/claimable}}
          {{#claimedByMe}}
          <form method="post" action="/review/tasks/{{taskID}}/release" class="inline-form">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" id="release" class="secondary">Release it</button>
          </form>
          {{/claimedByMe}}
        </div>
        {{/open}}
        <p class="shortcuts hint" id="shortcuts">Keys: <kbd>a</kbd> approve · <kbd>e</kbd> edit · <kbd>r</kbd> reject · <kbd>n</kbd> next task (not while typing in a field)</p>
        <div class="columns">
          <section class="decide card" aria-labelledby="decide-heading">
            <h2 id="decide-heading">The {{subjectPath}} to approve</h2>
            <div class="reviewed">
              {{#reviewed}}
              <div class="part">
                <h3 class="part-label">{{label}}</h3>
                {{#isText}}<p class="text{{#emphasis}} emphasis{{/emphasis}}">{{text}}</p>{{#note}}<p class="muted">{{note}}</p>{{/note}}{{/isText}}
                {{#isList}}<ul>{{#items}}<li>{{text}}</li>{{/items}}</ul>{{/isList}}
                {{#isJSON}}<pre tabindex="0" aria-label="{{label}}">{{json}}</pre>{{/isJSON}}
              </div>
              {{/reviewed}}
            </div>
            {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
            {{#claimedByOther}}<p class="error" role="alert">{{claimText}}</p>{{/claimedByOther}}
            {{#canDecide}}
            {{#canApprove}}
            <form method="post" action="/review/tasks/{{taskID}}/decision" aria-labelledby="approve-heading">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <input type="hidden" name="decision" value="approve">
              <h3 id="approve-heading">Approve</h3>
              <p>Let it go on as it is.</p>
              <button type="submit" id="approve">Approve</button>
            </form>
            {{/canApprove}}
            {{#canEdit}}
            <form method="post" action="/review/tasks/{{taskID}}/decision" aria-labelledby="edit-heading" id="edit-form" novalidate>
              <input type="hidden" name="csrf" value="{{csrf}}">
              <input type="hidden" name="decision" value="edit">
              <h3 id="edit-heading">Edit, then approve</h3>
              {{#editError}}<p class="error" role="alert" id="edit-error">{{editError}}</p>{{/editError}}
              {{#fields}}
              <div class="field">
                <label for="{{id}}">{{label}}</label>
                {{#isText}}<textarea id="{{id}}" name="{{name}}" rows="{{rows}}"{{#isJSON}} spellcheck="false" class="code"{{/isJSON}}{{#error}} aria-invalid="true" aria-describedby="{{id}}-error"{{/error}}>{{value}}</textarea>{{/isText}}
                {{#isChoice}}<select id="{{id}}" name="{{name}}"{{#error}} aria-invalid="true" aria-describedby="{{id}}-error"{{/error}}>{{#options}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/options}}</select>{{/isChoice}}
                {{#isNumber}}<input type="number" id="{{id}}" name="{{name}}" step="{{step}}" value="{{value}}" inputmode="decimal"{{#error}} aria-invalid="true" aria-describedby="{{id}}-error"{{/error}}>{{/isNumber}}
                {{#error}}<p class="error field-error" id="{{id}}-error">{{error}}</p>{{/error}}
              </div>
              {{/fields}}
              <button type="submit" id="save-fields">Save the edit and approve</button>
            </form>
            <details class="raw"{{#rawOpen}} open{{/rawOpen}}>
              <summary id="raw-toggle">Edit as raw JSON</summary>
              <form method="post" action="/review/tasks/{{taskID}}/decision" aria-label="Edit as raw JSON">
                <input type="hidden" name="csrf" value="{{csrf}}">
                <input type="hidden" name="decision" value="edit">
                <label for="output">Edited output (JSON, same fields as the original)</label>
                <textarea id="output" name="output" rows="12" spellcheck="false" class="code"{{#rawError}} aria-invalid="true" aria-describedby="output-error"{{/rawError}}>{{editText}}</textarea>
                {{#rawError}}<p class="error" id="output-error" role="alert">{{rawError}}</p>{{/rawError}}
                <button type="submit" id="save-edit">Save the JSON edit and approve</button>
              </form>
            </details>
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
            {{/canDecide}}
          </section>
          <section class="context card" aria-labelledby="context-heading">
            <h2 id="context-heading">Context</h2>
            {{#hasTicket}}
            <h3>The ticket, as the customer wrote it</h3>
            <div class="ticket">
              {{#ticketSubject}}<p class="ticket-subject"><strong>{{ticketSubject}}</strong></p>{{/ticketSubject}}
              <p class="text">{{ticketBody}}</p>
              <p class="muted small">{{#customerName}}From {{customerName}}{{/customerName}}{{#channel}} · by {{channel}}{{/channel}}</p>
            </div>
            {{/hasTicket}}
            {{#hasAccount}}
            <h3>Account</h3>
            {{#accounts}}
            <dl class="account">
              {{#tier}}<div><dt>Tier</dt><dd>{{tier}}</dd></div>{{/tier}}
              {{#health}}<div><dt>Health</dt><dd>{{health}}</dd></div>{{/health}}
              {{#hasRecent}}<div><dt>Recent tickets</dt><dd><ul>{{#recent}}<li>{{text}}</li>{{/recent}}</ul></dd></div>{{/hasRecent}}
            </dl>
            {{/accounts}}
            {{/hasAccount}}
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
            <h3>History <span class="muted small">(times in {{timeZone}})</span></h3>
            <ol class="timeline">
              {{#history}}<li><time datetime="{{at}}">{{local}}</time> <strong>{{what}}</strong> by {{actor}}{{#detail}}: {{detail}}{{/detail}}</li>{{/history}}
            </ol>
            <details>
              <summary>Raw input and step outputs (JSON)</summary>
              <h4>Input</h4>
              <pre tabindex="0" aria-label="Instance input">{{input}}</pre>
              {{#outputs}}
              <h4>{{name}}{{#confidence}} <span class="badge">confidence {{confidence}}</span>{{/confidence}}</h4>
              <pre tabindex="0" aria-label="Output {{name}}">{{json}}</pre>
              {{/outputs}}
            </details>
          </section>
        </div>
        <script src="/review/assets/desk.js" defer></script>
        {{> foot}}
        """

    /// The keyboard shortcuts (progressive enhancement: every action is also a button or a
    /// link). Keys do nothing while a field has the focus or with a modifier held.
    static let shortcuts = """
        (function () {
          "use strict";
          function typing(target) {
            if (!target || !target.tagName) { return false; }
            var tag = target.tagName.toLowerCase();
            return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
          }
          document.addEventListener("keydown", function (event) {
            if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) { return; }
            var act = null;
            switch (event.key) {
            case "a": act = function () { var b = document.getElementById("approve"); if (b) { b.click(); } }; break;
            case "e": act = function () { var f = document.querySelector("#edit-form textarea, #edit-form select, #edit-form input[type=number]"); if (f) { f.focus(); } }; break;
            case "r": act = function () { var f = document.getElementById("reason"); if (f) { f.focus(); } }; break;
            case "n": act = function () { var l = document.getElementById("next-task"); if (l) { l.click(); } }; break;
            case "/": act = function () { var f = document.getElementById("filter-priority"); if (f) { f.focus(); } }; break;
            }
            if (act) { event.preventDefault(); act(); }
          });
        })();

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
        .facts dd { margin: 0; overflow-wrap: anywhere; }
        .columns { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.25rem; align-items: start; }
        @media (max-width: 60rem) { .columns { grid-template-columns: 1fr; } }
        pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: .6rem; overflow-x: auto; font-size: 13px; white-space: pre-wrap; word-break: break-word; }
        .decide form { border-top: 1px solid var(--line); padding-top: .5rem; margin-top: .75rem; }
        .decide form:first-of-type { border-top: 0; margin-top: 0; }
        .badge { font-size: .8rem; font-weight: 600; background: #e8eef7; color: #0b3d78; border-radius: 3px; padding: .05rem .4rem; }
        .history { padding-left: 1.25rem; font-size: .92rem; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        .small { font-size: .85rem; }
        select, input[type=number] { font: inherit; padding: .35rem .5rem; border: 1px solid #767676; border-radius: 4px; color: var(--ink); background: #fff; max-width: 100%; }
        input[type=number] { width: 10rem; }
        select:focus-visible, summary:focus-visible { outline: 3px solid #ffb000; outline-offset: 2px; }
        select[aria-invalid=true] { border: 2px solid var(--bad); }
        .filters { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: flex-end; margin-bottom: 1rem; }
        .filter label { margin-top: 0; }
        .filter.actions { display: flex; gap: 1rem; align-items: center; }
        .filter.actions button { margin-top: 0; }
        .inline-form { display: inline-flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0; }
        .inline-form button { margin-top: 0; }
        .prio { display: inline-block; min-width: 2.4rem; text-align: center; font-weight: 700; border-radius: 3px; padding: .05rem .45rem; border: 1px solid; }
        .prio.p1 { background: #a4000f; color: #fff; border-color: #a4000f; }
        .prio.p2 { background: #fde7c4; color: #6b3a00; border-color: #b25d00; }
        .prio.p3 { background: #e8eef7; color: #0b3d78; border-color: #0b3d78; }
        .prio.p4, .prio.pother { background: #f0f0f0; color: #333; border-color: #767676; }
        .sla { font-weight: 700; }
        .sla.ok { color: var(--ok); }
        .sla.warning { color: #7a4100; }
        .sla.breached { color: var(--bad); }
        .sla.none { color: var(--muted); font-weight: 400; }
        .sla.warning::before { content: "⚠ "; }
        .sla.breached::before { content: "✖ "; }
        .claim { font-size: .9rem; color: #5a3d00; }
        .claim.mine { color: var(--ok); }
        .claimbar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin-bottom: 1rem; padding: .6rem 1rem; }
        .claimbar p { margin: 0; }
        .shortcuts kbd { font: 600 .85rem ui-monospace, monospace; border: 1px solid #767676; border-bottom-width: 2px; border-radius: 3px; padding: 0 .3rem; background: #f6f8fa; color: var(--ink); }
        .text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2rem 0 .6rem; }
        .text.emphasis { font-size: 1.1rem; font-weight: 700; }
        .part-label { font-size: .85rem; color: var(--muted); margin: .6rem 0 0; text-transform: uppercase; letter-spacing: .03em; }
        .reviewed { border: 1px solid var(--line); border-radius: 4px; padding: .25rem .9rem .5rem; margin-bottom: 1rem; background: #fbfcfd; }
        .field { margin-bottom: .4rem; }
        .field-error { margin: .2rem 0 0; }
        textarea { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
        textarea.code { font: 14px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
        details.raw { margin: .75rem 0; }
        summary { cursor: pointer; color: var(--link); font-weight: 600; }
        .ticket { border-left: 4px solid var(--line); padding: .1rem .8rem; }
        .account { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
        .account div { display: contents; }
        .account dt { color: var(--muted); }
        .account dd { margin: 0; }
        .timeline { list-style: none; padding-left: 0; font-size: .92rem; border-left: 2px solid var(--line); }
        .timeline li { padding: .15rem 0 .35rem .8rem; }
        .pager { display: flex; gap: 1.25rem; align-items: center; margin: 1rem 0; }
        .clear { font-size: .95rem; }
        /* Phone width: the bar wraps, the queue's rows become cards with their column names. */
        @media (max-width: 40rem) {
          .bar { flex-wrap: wrap; gap: .5rem; padding: .5rem 1rem; }
          .signout { flex-wrap: wrap; }
          main { padding: .75rem 1rem 2rem; }
          table.queue, table.queue tbody, table.queue tr, table.queue td { display: block; width: 100%; }
          table.queue thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
          table.queue tr { border: 1px solid var(--line); border-radius: 6px; margin-bottom: .75rem; padding: .25rem .5rem; }
          table.queue td { border-bottom: 0; padding: .25rem 0; }
          table.queue td::before { content: attr(data-label); display: block; font-size: .8rem; color: var(--muted); }
          .facts { gap: .4rem 1rem; }
          .card { padding: .75rem; }
          pre { max-width: 100%; }
        }

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
