// Words for access decisions, shared by the console and the portal: the level names of the decision
// chain and the sentence for a policy denied as a whole (`denied_as_a_whole: {level, reason}`).

export const LEVELS = {
  user: "User",
  link: "Link",
  contact: "Contact",
  company: "Company",
  company_policy: "Company policy",
  contact_policy: "Contact policy",
  effective: "Effective policy",
  object: "Object",
};

/**
 * "Everything is denied at the link level: the link is disabled." A plain string (an older answer)
 * is shown as the reason; a missing one gives null.
 */
export function wholeDenialSentence(denial) {
  if (!denial) return null;
  if (typeof denial === "string") return `Everything is denied: ${denial}.`;
  const level = (LEVELS[denial.level] || denial.level || "an unknown").toLowerCase();
  const reason = denial.reason ? `: ${denial.reason}` : "";
  return `Everything is denied at the ${level} level${reason}.`;
}
