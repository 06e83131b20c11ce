use leptos::prelude::*;

use crate::i18n::tr;
use crate::params::{Field, ParamInputs, ParamLimits};
use crate::protocol::Capabilities;

/// Whether the backend's dialect carries this parameter.
pub fn applies(field: Field, caps: &Capabilities) -> bool {
    match field {
        Field::RepetitionPenalty => caps.repetition_penalty,
        _ => caps.sampling,
    }
}

/// The sampling controls, always visible beside the chat. Refused values
/// are marked and explained; Send stays disabled until they are fixed.
/// Parameters the backend's dialect does not carry are shown as not
/// applicable instead of being dropped silently.
#[component]
pub fn ParamsPanel(
    inputs: RwSignal<ParamInputs>,
    caps: Capabilities,
    /// The accepted ranges (the protocol's or the configuration's).
    limits: ParamLimits,
) -> impl IntoView {
    view! {
        <form class="params" aria-label=tr("Generation parameters", "生成参数") on:submit=|ev| ev.prevent_default()>
            <h2>{tr("Parameters", "参数")}</h2>
            {Field::ALL.into_iter().map(|f| view! { <ParamField field=f inputs applicable=applies(f, &caps) limits=limits.clone()/> }).collect_view()}
            <div class="field system-prompt" class:not-applicable=!caps.system_prompt
                data-applicable=caps.system_prompt.to_string()>
                <label for="param-system-prompt">{tr("System prompt", "系统提示词")}</label>
                <textarea id="param-system-prompt" data-testid="system-prompt" rows="3"
                    placeholder=tr("none", "无")
                    disabled=!caps.system_prompt
                    prop:value=move || inputs.with(|p| p.system_prompt.clone())
                    on:input=move |ev| inputs.update(|p| p.system_prompt = event_target_value(&ev))></textarea>
                {(!caps.system_prompt).then(|| view! {
                    <p class="field-error">{tr("Not used by this backend", "此后端不使用")}</p>
                })}
            </div>
        </form>
    }
}

#[component]
fn ParamField(
    field: Field,
    inputs: RwSignal<ParamInputs>,
    applicable: bool,
    limits: ParamLimits,
) -> impl IntoView {
    let (min, max, step) = field.bounds(&limits);
    let range = format!(" ({min}–{max})");
    let problem = Memo::new(move |_| inputs.with(|p| field.problem(p, &limits)));
    let id = format!("param-{}", field.test_id());
    let err_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || applicable && problem.with(Option::is_some)
            class:not-applicable=!applicable data-applicable=applicable.to_string()>
            <label for=id.clone()>{field.label()}<span class="range">{range}</span></label>
            <input id=id type="number" inputmode="decimal" min=min max=max step=step
                placeholder=if field.optional() { tr("not set", "未设置") } else { "" }
                disabled=!applicable
                data-testid=field.test_id()
                aria-invalid=move || problem.with(Option::is_some).to_string()
                aria-describedby=err_id.clone()
                prop:value=move || inputs.with(|p| field.get(p).to_owned())
                on:input=move |ev| inputs.update(|p| field.set(p, event_target_value(&ev)))/>
            <p class="field-error" id=err_id data-testid=format!("{}-error", field.test_id())>
                {move || if applicable {
                    problem.get().map(|e| trf!("Must be {e}", "须为{e}"))
                } else {
                    Some(tr("Not used by this backend", "此后端不使用").to_string())
                }}
            </p>
        </div>
    }
}
