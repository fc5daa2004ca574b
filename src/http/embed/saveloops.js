/*! Saveloops cancel flow: a drop-in widget served by the Saveloops service.
 * Plain JavaScript, no dependencies, no third-party requests. It renders in an open Shadow DOM
 * under <saveloops-flow> with a constructed stylesheet, so it runs under a strict
 * Content-Security-Policy (no inline script or style, no eval). */
(() => {
  'use strict';
  if (window.Saveloops) return;

  const TEXT = {
    en: {
      title: 'Before you go',
      reasonPrompt: "What's the main reason you're leaving?",
      reasons: ["It's too expensive", "I'm not using it enough", "It's missing something I need", "Something isn't working", 'I need a break for a while', 'Something else'],
      details: 'Anything you would like to add? (optional)',
      next: 'Continue', skip: 'Skip',
      offersTitle: 'Would one of these help?',
      noOffers: 'Thank you for telling us.',
      accept: 'Accept', decline: 'No thanks, cancel', cancel: 'Continue to cancel', close: 'Close', closeLabel: 'Close this dialog',
      applying: 'Applying…',
      applied: 'Done: {label} is now on your subscription.',
      pending: '{label} is being applied. It can take a moment.',
      saved: 'Thank you for staying!',
      failed: 'That did not work: {message}',
      cardTitle: "Your last payment didn't go through",
      cardBody: 'Updating your card keeps your account as it is.',
      updateCard: 'Update card', notNow: 'Not now',
      discount: '{value}% off', pause: 'Pause for {value} month(s)', trial_extension: '{value} more days free',
      downgrade: 'Switch to a smaller plan', contact: 'Talk to us', custom: ''
    },
    de: {
      title: 'Bevor Sie gehen',
      reasonPrompt: 'Was ist der Hauptgrund für Ihre Kündigung?',
      reasons: ['Es ist zu teuer', 'Ich nutze es zu wenig', 'Mir fehlt eine Funktion', 'Etwas funktioniert nicht', 'Ich brauche eine Pause', 'Etwas anderes'],
      details: 'Möchten Sie etwas ergänzen? (optional)',
      next: 'Weiter', skip: 'Überspringen',
      offersTitle: 'Hilft Ihnen eines dieser Angebote?',
      noOffers: 'Danke für Ihre Rückmeldung.',
      accept: 'Annehmen', decline: 'Nein danke, kündigen', cancel: 'Weiter zur Kündigung', close: 'Schließen', closeLabel: 'Dialog schließen',
      applying: 'Wird angewendet…',
      applied: 'Erledigt: {label} gilt jetzt für Ihr Abo.',
      pending: '{label} wird angewendet. Das kann einen Moment dauern.',
      saved: 'Danke, dass Sie bleiben!',
      failed: 'Das hat nicht geklappt: {message}',
      cardTitle: 'Ihre letzte Zahlung ist fehlgeschlagen',
      cardBody: 'Aktualisieren Sie Ihre Karte, damit Ihr Konto bleibt, wie es ist.',
      updateCard: 'Karte aktualisieren', notNow: 'Nicht jetzt',
      discount: '{value} % Rabatt', pause: '{value} Monat(e) pausieren', trial_extension: '{value} Tage länger gratis',
      downgrade: 'Zu einem kleineren Tarif wechseln', contact: 'Sprechen Sie mit uns', custom: ''
    },
    fr: {
      title: 'Avant de partir',
      reasonPrompt: 'Quelle est la raison principale de votre départ ?',
      reasons: ["C'est trop cher", "Je ne l'utilise pas assez", 'Il me manque une fonctionnalité', 'Quelque chose ne marche pas', "J'ai besoin d'une pause", 'Autre chose'],
      details: 'Voulez-vous ajouter quelque chose ? (facultatif)',
      next: 'Continuer', skip: 'Passer',
      offersTitle: "L'une de ces offres vous aiderait-elle ?",
      noOffers: 'Merci de nous avoir répondu.',
      accept: 'Accepter', decline: 'Non merci, résilier', cancel: 'Continuer la résiliation', close: 'Fermer', closeLabel: 'Fermer cette fenêtre',
      applying: 'Application…',
      applied: "C'est fait : {label} s'applique à votre abonnement.",
      pending: "{label} est en cours d'application. Cela peut prendre un instant.",
      saved: 'Merci de rester !',
      failed: "Cela n'a pas fonctionné : {message}",
      cardTitle: "Votre dernier paiement n'a pas abouti",
      cardBody: 'Mettez à jour votre carte pour garder votre compte tel quel.',
      updateCard: 'Mettre à jour la carte', notNow: 'Plus tard',
      discount: '{value} % de réduction', pause: 'Pause de {value} mois', trial_extension: '{value} jours gratuits de plus',
      downgrade: 'Passer à une formule plus petite', contact: 'Parlez-nous', custom: ''
    },
    es: {
      title: 'Antes de irte',
      reasonPrompt: '¿Cuál es el motivo principal por el que te vas?',
      reasons: ['Es demasiado caro', 'No lo uso lo suficiente', 'Le falta algo que necesito', 'Algo no funciona', 'Necesito una pausa', 'Otro motivo'],
      details: '¿Quieres añadir algo? (opcional)',
      next: 'Continuar', skip: 'Omitir',
      offersTitle: '¿Te ayudaría alguna de estas opciones?',
      noOffers: 'Gracias por contárnoslo.',
      accept: 'Aceptar', decline: 'No, gracias, cancelar', cancel: 'Seguir con la cancelación', close: 'Cerrar', closeLabel: 'Cerrar este diálogo',
      applying: 'Aplicando…',
      applied: 'Listo: {label} ya está en tu suscripción.',
      pending: 'Se está aplicando {label}. Puede tardar un momento.',
      saved: '¡Gracias por quedarte!',
      failed: 'No ha funcionado: {message}',
      cardTitle: 'Tu último pago no se completó',
      cardBody: 'Actualiza tu tarjeta para mantener tu cuenta como está.',
      updateCard: 'Actualizar tarjeta', notNow: 'Ahora no',
      discount: '{value} % de descuento', pause: 'Pausa de {value} mes(es)', trial_extension: '{value} días más gratis',
      downgrade: 'Cambiar a un plan más pequeño', contact: 'Habla con nosotros', custom: ''
    }
  };

  const APPLIED_TYPES = ['discount', 'pause', 'trial_extension', 'downgrade'];
  // Past this, the service counts as slow and the widget gets out of the way.
  const TIMEOUT_MS = 3000;
  // Applying waits for Stripe (the service answers 202 and retries when Stripe is slow).
  const APPLY_TIMEOUT_MS = 20000;
  const HOVER_DWELL_MS = 700;

  const CSS = `
:host { all: initial; }
.backdrop { position: fixed; inset: 0; z-index: 2147483000; display: flex; align-items: center; justify-content: center;
  background: var(--saveloops-backdrop, rgba(15, 23, 42, .55)); font: var(--saveloops-font, 16px/1.5 system-ui, sans-serif); }
.dialog { box-sizing: border-box; width: min(30rem, calc(100vw - 2rem)); max-height: calc(100vh - 2rem); overflow: auto;
  background: var(--saveloops-background, #fff); color: var(--saveloops-text, #111827); border-radius: var(--saveloops-radius, 12px);
  padding: 1.5rem; box-shadow: 0 20px 50px rgba(0, 0, 0, .3); }
@media (prefers-reduced-motion: no-preference) { .dialog { animation: enter .16s ease-out; } }
@keyframes enter { from { opacity: 0; transform: translateY(8px); } }
h2 { font-size: 1.25rem; margin: 0 0 .75rem; }
p, fieldset { margin: 0 0 1rem; }
fieldset { border: 0; padding: 0; }
legend { padding: 0; margin-bottom: .5rem; font-weight: 600; }
label { display: block; margin: .25rem 0; cursor: pointer; }
textarea { box-sizing: border-box; width: 100%; min-height: 4.5rem; font: inherit; padding: .5rem; border: 1px solid #6b7280; border-radius: 6px; }
ul { list-style: none; padding: 0; margin: 0 0 1rem; }
li { border: 1px solid #d1d5db; border-radius: 8px; padding: .75rem; margin-bottom: .5rem; display: flex; gap: .75rem; align-items: center; justify-content: space-between; }
.detail { display: block; font-size: .9rem; color: var(--saveloops-muted, #4b5563); }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; justify-content: flex-end; }
button { font: inherit; cursor: pointer; border-radius: 6px; padding: .5rem 1rem; border: 1px solid var(--saveloops-accent, #1d4ed8);
  background: var(--saveloops-background, #fff); color: var(--saveloops-accent, #1d4ed8); }
button.primary { background: var(--saveloops-accent, #1d4ed8); color: var(--saveloops-accent-text, #fff); }
button.link { border-color: transparent; background: none; color: var(--saveloops-text, #111827); text-decoration: underline; }
button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 3px solid var(--saveloops-focus, #f59e0b); outline-offset: 2px; }
button[disabled] { opacity: .6; cursor: progress; }
.status { min-height: 1.5rem; }
.close { float: right; margin: -.5rem -.5rem 0 0; padding: .25rem .6rem; }
.footer { margin-top: 1rem; border-top: 1px solid #e5e7eb; padding-top: .75rem; }
`;
  let sheet = null;
  function styles() {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    return sheet;
  }

  // Elements are built with textContent only: nothing from the service or the host is parsed as HTML.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else if (key === 'text') el.textContent = value;
      else el.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat()) if (child != null && child !== false) el.append(child);
    return el;
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, (_, key) => (values[key] == null ? '' : values[key]));
  }

  function pickLocale(asked) {
    const candidates = [asked, document.documentElement.lang, ...(navigator.languages || [navigator.language])];
    for (const tag of candidates) {
      const lang = String(tag || '').slice(0, 2).toLowerCase();
      if (TEXT[lang]) return lang;
    }
    return 'en';
  }

  function safeUrl(raw) {
    if (typeof raw !== 'string' || !raw) return null;
    try {
      const url = new URL(raw, location.href);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  class SaveloopsFlow extends HTMLElement {
    connectedCallback() {
      if (!this.shadowRoot) this.attachShadow({ mode: 'open' }).adoptedStyleSheets = [styles()];
    }
  }
  if (!customElements.get('saveloops-flow')) customElements.define('saveloops-flow', SaveloopsFlow);

  class Flow {
    constructor(options, binding, trigger, returnFocus) {
      this.o = options;
      this.binding = binding;
      this.trigger = trigger;
      this.returnFocus = returnFocus;
      this.t = Object.assign({}, TEXT.en, TEXT[pickLocale(options.locale)], options.messages || {});
      this.shown = [];
      this.recorded = false;
      this.intercept = null;
    }

    async call(path, body, timeout) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeout || TIMEOUT_MS);
      try {
        const token = typeof this.o.session === 'function' ? await this.o.session() : this.o.session;
        const response = await fetch(this.o.apiBase.replace(/\/$/, '') + path, {
          method: 'POST',
          mode: 'cors',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
          body: JSON.stringify(body),
          signal: controller.signal
        });
        let data = {};
        try { data = await response.json(); } catch (_) { /* an empty or non-JSON answer */ }
        return { status: response.status, data };
      } finally {
        clearTimeout(timer);
      }
    }

    async open() {
      performance.mark('saveloops:open');
      let answer;
      try {
        answer = await this.call('/api/v1/intercept', { target_id: this.o.targetId, trigger: this.trigger });
      } catch (_) {
        answer = null; // down, slow (aborted after 3 s) or refused by CORS
      }
      if (!answer || answer.status !== 200 || !Array.isArray(answer.data.offers)) {
        // Never a trap: the widget gets out of the way and the host's cancellation proceeds.
        this.binding.flow = null;
        if (this.trigger === 'click') this.binding.proceed({ reason: 'unavailable', status: answer && answer.status });
        return;
      }
      this.intercept = answer.data;
      this.render();
      if (this.intercept.show_update_card) this.cardStep();
      else this.reasonStep();
    }

    render() {
      this.host = document.createElement('saveloops-flow');
      const theme = this.o.theme || {};
      for (const [name, value] of Object.entries(theme)) {
        this.host.style.setProperty('--saveloops-' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()), value);
      }
      document.body.append(this.host);
      const root = this.host.shadowRoot;
      this.title = h('h2', { id: 'saveloops-title', tabindex: '-1', text: this.t.title });
      this.body = h('div', { 'data-saveloops': 'step' });
      this.status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', 'data-saveloops': 'status' });
      this.dialog = h('div', {
        class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'saveloops-title', 'data-saveloops': 'dialog'
      },
        h('button', { type: 'button', class: 'close link', 'aria-label': this.t.closeLabel, 'data-saveloops': 'close', onclick: () => this.dismiss() }, '×'),
        this.title, this.body, this.status,
        h('div', { class: 'row footer' },
          h('button', { type: 'button', class: 'link', 'data-saveloops': 'continue-cancel', onclick: () => this.cancel() }, this.t.cancel)));
      root.replaceChildren(h('div', { class: 'backdrop' }, this.dialog));
      // On the document, so that Escape and Tab work wherever focus went (a click on the backdrop).
      this.keys = (event) => this.onKey(event);
      document.addEventListener('keydown', this.keys, true);
    }

    step(name, title, ...content) {
      this.title.textContent = title;
      this.status.textContent = '';
      this.body.setAttribute('data-saveloops', 'step-' + name);
      this.body.replaceChildren(...content);
      const first = this.focusable()[1]; // [0] is the close button
      (first || this.title).focus();
    }

    cardStep() {
      this.step('card', this.t.cardTitle,
        h('p', { text: this.t.cardBody }),
        h('div', { class: 'row' },
          h('button', { type: 'button', 'data-saveloops': 'not-now', onclick: () => this.reasonStep() }, this.t.notNow),
          h('button', { type: 'button', class: 'primary', 'data-saveloops': 'update-card', onclick: (e) => this.updateCard(e.currentTarget) }, this.t.updateCard)));
    }

    reasonStep() {
      const choices = this.t.reasons.map((text) =>
        h('label', {}, h('input', { type: 'radio', name: 'saveloops-reason', value: text, 'data-saveloops': 'reason-choice' }), ' ', text));
      const details = h('textarea', { id: 'saveloops-details', maxlength: '1500', 'data-saveloops': 'reason' });
      const form = h('form', {
        onsubmit: (event) => {
          event.preventDefault();
          const chosen = form.querySelector('input:checked');
          const reason = [chosen && chosen.value, details.value.trim()].filter(Boolean).join('. ');
          if (reason) this.sentiment(reason, event.submitter || form);
          else this.offersStep(this.intercept.offers);
        }
      },
        h('fieldset', {}, h('legend', { text: this.t.reasonPrompt }), choices),
        h('label', { for: 'saveloops-details', text: this.t.details }), details,
        h('div', { class: 'row' },
          h('button', { type: 'button', 'data-saveloops': 'skip', onclick: () => this.offersStep(this.intercept.offers) }, this.t.skip),
          h('button', { type: 'submit', class: 'primary', 'data-saveloops': 'next' }, this.t.next)));
      this.step('reason', this.t.title, form);
    }

    async sentiment(reason, button) {
      if (button.disabled) return;
      button.disabled = true;
      let offers = this.intercept.offers;
      try {
        const answer = await this.call('/api/v1/intercept/sentiment', { reason, target_id: this.o.targetId });
        if (answer.status === 200 && Array.isArray(answer.data.offers) && answer.data.offers.length) offers = answer.data.offers;
      } catch (_) {
        // The reason could not be read in time: the intercept's offers are shown instead.
      }
      if (this.host) this.offersStep(offers);
    }

    offersStep(offers) {
      this.shown = offers;
      const items = offers.map((offer) => {
        const template = this.t[offer.type];
        const detail = template ? fill(template, offer) : '';
        return h('li', { 'data-saveloops': 'offer', 'data-offer-id': String(offer.id), 'data-offer-type': offer.type },
          h('span', {}, h('strong', { text: offer.label }), detail && detail !== offer.label ? h('span', { class: 'detail', text: detail }) : null),
          h('button', { type: 'button', class: 'primary', 'data-saveloops': 'accept', 'aria-label': this.t.accept + ': ' + offer.label, onclick: (e) => this.accept(offer, e.currentTarget) }, this.t.accept));
      });
      const content = offers.length
        ? [h('ul', {}, items), h('div', { class: 'row' }, h('button', { type: 'button', 'data-saveloops': 'decline', onclick: () => this.cancel() }, this.t.decline))]
        : [h('p', { text: this.t.noOffers })];
      this.step('offers', offers.length ? this.t.offersTitle : this.t.title, ...content);
      try { performance.measure('saveloops:first-offer', 'saveloops:open'); } catch (_) { /* the host cleared the mark */ }
    }

    async accept(offer, button) {
      if (this.busy) return;
      this.busy = true;
      button.disabled = true;
      try {
        if (APPLIED_TYPES.includes(offer.type)) {
          this.status.textContent = this.t.applying;
          let answer;
          try {
            answer = await this.call('/api/v1/intercept/apply-offer', { offer_id: offer.id }, APPLY_TIMEOUT_MS);
          } catch (_) {
            answer = { status: 0, data: { message: 'the service did not answer' } };
          }
          if (answer.status === 200 || answer.status === 202) {
            this.recorded = true;
            const text = fill(answer.status === 200 ? this.t.applied : this.t.pending, offer);
            this.doneStep(text, { offer, status: answer.status === 200 ? 'applied' : 'pending', applicationId: answer.data.application_id });
          } else {
            this.status.textContent = fill(this.t.failed, { message: answer.data.message || answer.status });
            button.disabled = false;
          }
          return;
        }
        // Opened while the click still counts as the user's, so that no popup blocker stops it.
        const url = offer.type === 'contact' && safeUrl(offer.config && offer.config.url);
        if (url) window.open(url, '_blank', 'noopener');
        await this.record(offer, 'saved');
        this.doneStep(this.t.saved, { offer, status: 'saved' });
      } finally {
        this.busy = false;
      }
    }

    async record(offer, status) {
      try {
        await this.call('/api/v1/intercept/outcome', { offer_id: offer.id, status });
      } catch (_) {
        // Recording is best effort: the customer's choice is never held up by it.
      }
    }

    doneStep(text, detail) {
      this.recorded = true;
      this.step('done', this.t.title, h('p', { text }),
        h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', 'data-saveloops': 'done', onclick: () => this.close() }, this.t.close)));
      this.saved = detail;
      if (this.o.onSaved) this.o.onSaved(detail);
    }

    async updateCard(button) {
      button.disabled = true;
      let url = safeUrl(this.o.updateCardUrl);
      if (!url) {
        try {
          const answer = await this.call('/api/v1/intercept/update-card', { return_url: location.href });
          if (answer.status === 200) url = safeUrl(answer.data.url);
          else this.status.textContent = fill(this.t.failed, { message: answer.data.message || answer.status });
        } catch (_) {
          this.status.textContent = fill(this.t.failed, { message: 'the service did not answer' });
        }
      }
      if (url) location.assign(url);
      else button.disabled = false;
    }

    async abandonShown() {
      if (this.recorded) return;
      this.recorded = true;
      await Promise.all(this.shown.map((offer) => this.record(offer, 'abandoned')));
    }

    // Continue to cancel: the shown offers are recorded as declined, and the host's own
    // cancellation goes on.
    // The outcome is recorded before the host's cancellation goes on (a navigation would
    // cancel the request); the dialog is gone at once, and the wait is bounded by the timeout.
    async cancel() {
      const offers = this.shown.map((offer) => offer.id);
      this.close();
      await this.abandonShown();
      this.binding.proceed({ reason: 'declined', offers });
    }

    // Escape or ×: the flow closes and nothing is cancelled.
    dismiss() {
      this.abandonShown();
      this.close();
    }

    close() {
      document.removeEventListener('keydown', this.keys, true);
      if (this.host) this.host.remove();
      this.host = null;
      this.binding.flow = null;
      const target = this.returnFocus;
      if (target && target.isConnected && typeof target.focus === 'function') target.focus();
    }

    focusable() {
      return [...this.dialog.querySelectorAll('button, input, textarea, a[href], [tabindex]:not([tabindex="-1"])')]
        .filter((el) => !el.disabled && el.getClientRects().length);
    }

    onKey(event) {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.dismiss();
        return;
      }
      if (event.key !== 'Tab') return;
      // Focus stays inside the dialog.
      const all = this.focusable();
      if (!all.length) return;
      const active = this.host.shadowRoot.activeElement;
      const index = all.indexOf(active);
      let next = null;
      if (event.shiftKey && (index <= 0)) next = all[all.length - 1];
      else if (!event.shiftKey && (index === -1 || index === all.length - 1)) next = all[0];
      if (next) {
        event.preventDefault();
        next.focus();
      }
    }
  }

  class Binding {
    constructor(options) {
      this.o = options;
      this.flow = null;
      this.bypass = false;
      this.exitShown = false;
      this.hoverShown = false;
      this.listeners = [];
    }

    // Binds to the cancel element; mount() calls it once the document is parsed.
    bind() {
      const options = this.o;
      this.element = options.selector ? document.querySelector(options.selector) : document.getElementById(options.targetId);
      const triggers = options.triggers || ['click'];
      if (triggers.includes('click') && this.element) {
        this.listen(this.element, 'click', (event) => {
          if (this.bypass) return;
          // The host's own cancel action is held until the flow ends.
          event.preventDefault();
          event.stopImmediatePropagation();
          this.start('click', this.element);
        }, true);
      }
      if (triggers.includes('exit_intent')) {
        this.listen(document, 'mouseout', (event) => {
          if (event.relatedTarget || event.clientY > 0 || this.exitShown) return;
          this.exitShown = true; // once per page view
          this.start('exit_intent', document.activeElement);
        });
      }
      if (triggers.includes('hover') && this.element) {
        let timer = null;
        this.listen(this.element, 'mouseenter', () => {
          if (this.hoverShown) return;
          timer = setTimeout(() => {
            this.hoverShown = true;
            this.start('hover', this.element);
          }, HOVER_DWELL_MS);
        });
        this.listen(this.element, 'mouseleave', () => clearTimeout(timer));
      }
    }

    listen(target, type, handler, capture) {
      target.addEventListener(type, handler, capture);
      this.listeners.push(() => target.removeEventListener(type, handler, capture));
    }

    start(trigger, returnFocus) {
      if (this.flow) return;
      this.trigger = trigger;
      this.flow = new Flow(this.o, this, trigger, returnFocus);
      this.flow.open();
    }

    // Hands over to the host: its onCancel, or the held click performed again.
    proceed(detail) {
      const info = Object.assign({ trigger: this.trigger }, detail);
      if (this.o.onCancel) {
        this.o.onCancel(info);
      } else if (this.trigger === 'click' && this.element) {
        this.bypass = true;
        try { this.element.click(); } finally { this.bypass = false; }
      }
    }

    unmount() {
      this.listeners.forEach((remove) => remove());
      if (this.flow) this.flow.close();
    }
  }

  function mount(options) {
    const o = Object.assign({ targetId: 'cancel', triggers: ['click'] }, options);
    if (!o.apiBase || !o.session) throw new TypeError('Saveloops.mount needs apiBase and session');
    const binding = new Binding(o);
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => binding.bind(), { once: true });
    else binding.bind();
    return {
      open: (trigger) => binding.start(trigger || 'click', document.activeElement),
      unmount: () => binding.unmount()
    };
  }

  window.Saveloops = Object.freeze({ mount, version: '1' });
})();
