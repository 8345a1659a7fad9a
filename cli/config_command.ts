/**
 * `archiver config`: the effective configuration, each value with where it came from, every
 * secret of the URI masked (password, proxy and key-file passwords, AWS session token). The first
 * thing to run when a setting does not do what was expected.
 *
 * @module
 */

import { globalSettings } from "../core/runtime/config.ts";
import { redact } from "../core/runtime/mask.ts";
import type { PluginContext, Program } from "../core/runtime/plugin.ts";
import { displayValue, type SettingsSpec } from "../core/runtime/settings.ts";

/**
 * Every setting of the core and of the given plugins, core first. Plugin settings are keyed by
 * their environment variable, which is unique across the tool, so two plugins may use the same
 * key for different settings; a setting shared by several plugins appears once.
 *
 * @param plugins The registered plugins.
 * @returns One spec holding all settings.
 */
export function allSettings(plugins: PluginContext["plugins"]): SettingsSpec {
  const spec: SettingsSpec = { ...globalSettings };
  for (const plugin of plugins) {
    for (const setting of Object.values(plugin.settings ?? {})) spec[setting.env] ??= setting;
  }
  return spec;
}

/**
 * The text of `.env.example`: every setting, commented out at its default, grouped by owner.
 *
 * @param plugins The registered plugins.
 * @returns The file's content.
 */
export function envExample(plugins: PluginContext["plugins"]): string {
  const groups: Array<[string, SettingsSpec]> = [
    ["Connection, collections and logging (every command)", globalSettings],
    ...plugins.filter((plugin) => plugin.settings).map((plugin) =>
      [`${plugin.name}: ${plugin.description}`, plugin.settings!] as [string, SettingsSpec]
    ),
  ];
  const lines = [
    "# archiver settings. Precedence: command-line flag, then environment, then this file",
    "# (.env in the working folder, or next to the binary), then the defaults shown here.",
    "# Uncomment and edit what you need; `archiver config` shows the effective values.",
  ];
  const listed = new Set<string>();
  for (const [title, spec] of groups) {
    const fresh = Object.values(spec).filter((setting) => !listed.has(setting.env));
    if (fresh.length === 0) continue;
    lines.push("", `# --- ${title}`);
    for (const setting of fresh) {
      listed.add(setting.env);
      const flag = setting.flag ? ` (flag ${setting.flag.split(" ")[0]})` : "";
      lines.push(`# ${setting.description}${flag}`);
      lines.push(`# ${setting.env}=${displayValue(setting, setting.default)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Registers `archiver config` on the program.
 *
 * @param program The root program.
 * @param ctx The shared context.
 */
export function registerConfigCommand(program: Program, ctx: PluginContext): void {
  program
    .command("config")
    .description("Print the effective configuration and where each value came from")
    .option("--json", "Print one JSON object instead of a table")
    .option("--example", "Print a .env.example listing every setting at its default")
    .action(async (options, command) => {
      // Values are masked by displayValue (settings with `secret: true`); the whole output is
      // scrubbed too, so a secret the mask cannot place (one that ended a malformed URI, or sits
      // in another setting) is still removed: the configuration registered every one it read.
      const out = (text: string) => ctx.out(redact(text));
      if (options.example) {
        ctx.out(envExample(ctx.plugins));
        return;
      }
      const spec = allSettings(ctx.plugins);
      const config = await ctx.start(command, spec, { logFile: false });
      const rows = Object.entries(spec).map(([key, setting]) => ({
        setting: setting.env,
        value: displayValue(setting, (config.values as Record<string, unknown>)[key]),
        source: config.sources[key] === ".env"
          ? `.env (${config.envFile})`
          : config.sources[key] ?? "default",
      }));
      if (options.json) {
        out(JSON.stringify({ envFile: config.envFile ?? null, settings: rows }));
        return;
      }
      const widths = (["setting", "value"] as const).map((column) =>
        Math.max(column.length, ...rows.map((row) => row[column].length))
      );
      const line = (cells: string[]) =>
        cells.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join("  ")
          .trimEnd();
      out(
        [
          line(["SETTING", "VALUE", "SOURCE"]),
          ...rows.map((row) => line([row.setting, row.value, row.source])),
          `.env file: ${config.envFile ?? "none"}`,
        ].join("\n"),
      );
    });
}
